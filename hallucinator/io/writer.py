"""Encode video and PNG sequences: a result appears under its final name only when complete.

* :class:`VideoWriter` encodes H.264 or H.265 into MP4/MOV/MKV, copies the
  source's audio packets unchanged (no re-encode) over a chosen range, keeps
  the source's time base and timestamps (variable frame rate survives), and
  marks MP4/MOV output as 360° (:mod:`hallucinator.io.mp4meta`); a 360°
  output named .mkv or .webm is refused (:func:`check_video_output`).  It writes
  to a temporary name in the output's folder and renames when complete.
* :class:`PngSequenceWriter` writes numbered PNG files into a folder that
  appears under its final name only when complete.

Errors the user can fix raise :class:`~hallucinator.errors.UserError`.
"""
from __future__ import annotations

import errno
import os
import shutil
import tempfile
from fractions import Fraction
from pathlib import Path
from typing import List, Optional, Tuple

import numpy as np

from ..atomic import temp_path
from ..errors import UserError
from .mp4meta import STEREO_MODES, inject_spherical_metadata
from .probe import fraction


def disk_full(exc: BaseException) -> bool:
    """True when an OSError means the disk (or the file size limit) is full."""
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def remove_stale_temps(final: Path) -> None:
    """Remove temporaries a killed run left next to ``final``."""
    final = Path(final)
    folder = final.parent if str(final.parent) else Path(".")
    if not folder.is_dir():
        return
    for p in folder.glob(f".{final.name}.*.tmp"):
        try:
            if p.is_dir():
                shutil.rmtree(p)
            else:
                p.unlink()
        except OSError:
            pass


SPHERICAL_SUFFIXES = (".mp4", ".mov", ".m4v")   # ISO BMFF: the outputs marked as 360° (io/mp4meta)
VIDEO_OUTPUT_SUFFIXES = SPHERICAL_SUFFIXES + (".mkv",)


def check_video_output(path, spherical: bool = True) -> str:
    """The lower-case suffix of a video output, or a one-line refusal when it cannot be written as asked.

    A 360° output must be MP4/MOV: Matroska and WebM files would come out without the spherical
    marking, so players would show them flat.
    """
    suffix = Path(path).suffix.lower()
    if spherical and suffix in (".mkv", ".webm"):
        raise UserError(f"output {path}: 360° metadata is written only into MP4/MOV, and a {suffix} file "
                        f"would play flat; name the output {Path(path).with_suffix('.mp4').name}")
    if suffix not in VIDEO_OUTPUT_SUFFIXES:
        raise UserError(f"output {path} must end in .mp4, .mov or .m4v")
    return suffix


class _Output:
    """An output that appears whole or not at all: ``with`` closes it on success and aborts it on an error."""

    def close(self):
        raise NotImplementedError

    def abort(self) -> None:
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()


class VideoWriter(_Output):
    """Encode uint8 HWC RGB frames into a video file, atomically.

    ``time_base`` and per-frame ``pts`` keep the source's timing exactly
    (variable frame rate included); with only ``fps`` frames are spaced
    evenly.  ``audio_from`` names a file whose first audio stream is copied
    packet by packet (no re-encode), restricted to ``audio_range`` = ``(start,
    end)`` seconds on the source's timeline when given (``end`` None: to the
    end), and shifted so that ``start`` becomes 0 (give the first video
    frame's time, so picture and sound stay in sync); :meth:`set_audio_start`
    and :meth:`set_audio_end` set the range once the frames are known.
    ``spherical`` marks the result as an equirectangular 360° video (MP4/MOV);
    ``stereo`` is its layout: "mono", "top-bottom" or "left-right".
    ``latitude_qp`` quantises rows more coarsely toward the poles, as they are oversampled
    (:mod:`~hallucinator.io.latitude_qp`; not at CRF 0).
    """

    def __init__(self, path, fps=None, width: int = 0, height: int = 0, *, time_base=None,
                 codec: str = "libx264", crf: int = 18, preset: str = "medium", pix_fmt: str = "yuv420p",
                 audio_from=None, audio_range: Optional[Tuple[float, Optional[float]]] = None,
                 spherical: bool = True, stereo: str = "mono", metadata: Optional[dict] = None,
                 threads: int = 0, latitude_qp: bool = False):
        import av

        self.path = Path(path)
        if codec not in ("libx264", "libx265"):
            raise UserError(f"unknown codec {codec!r}; choose libx264 (H.264) or libx265 (H.265)")
        if codec not in av.codecs_available:
            raise UserError(f"this FFmpeg build has no {codec} encoder; choose another --codec")
        if width <= 0 or height <= 0 or width % 2 or height % 2:
            raise UserError(f"output size {width}x{height} must be positive and even for {codec}; "
                            "choose another --size")
        if stereo not in STEREO_MODES:
            raise ValueError(f"stereo must be one of {STEREO_MODES}")
        if not 0 <= crf <= 51:
            raise UserError(f"--crf {crf} is out of range; use 0 (lossless) to 51")
        if fps is None and time_base is None:
            raise ValueError("give fps or time_base")
        self.fps = fraction(fps) if fps is not None else None
        self.time_base = fraction(time_base) if time_base is not None else 1 / self.fps
        self.width, self.height = int(width), int(height)
        self.codec, self.crf, self.stereo = codec, int(crf), stereo
        self.spherical = spherical
        self.frames_written = 0
        self._last_pts = None
        suffix = check_video_output(self.path, spherical)
        self._isobmff = suffix in SPHERICAL_SUFFIXES
        if not self.path.parent.exists():
            raise UserError(f"output folder {self.path.parent} does not exist; create it first")
        remove_stale_temps(self.path)
        self._tmp = temp_path(self.path)
        fmt = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}[suffix]
        try:
            self._out = av.open(str(self._tmp), mode="w", format=fmt)
            if metadata:
                for k, v in metadata.items():
                    self._out.metadata[k] = str(v)
            rate = self.fps if self.fps is not None else None
            self._v = self._out.add_stream(codec, rate=rate) if rate else self._out.add_stream(codec)
            self._v.width, self._v.height = self.width, self.height
            self._v.pix_fmt = pix_fmt
            self._v.time_base = self.time_base
            self._v.codec_context.time_base = self.time_base
            if threads:
                self._v.codec_context.thread_count = threads
            opts = {"crf": str(self.crf), "preset": preset}
            if codec == "libx265":
                opts["x265-params"] = "log-level=error"
                if self._isobmff:
                    self._v.codec_tag = "hvc1"   # plays in Apple players too
            self._v.options = opts
            self._roi = None
            if latitude_qp and crf > 0:    # coarser toward the poles (io/latitude_qp); lossless stays lossless
                from .latitude_qp import LatitudeRoi

                self._roi = LatitudeRoi(self.width, self.height, pix_fmt, self.time_base,
                                        eyes=2 if stereo == "top-bottom" else 1)
            self._audio_src = None
            self._a = None
            if audio_from is not None:
                self._open_audio(audio_from, audio_range)
        except Exception:
            self._cleanup()
            raise

    # -- audio -------------------------------------------------------------

    def _open_audio(self, source, audio_range) -> None:
        import av

        src = av.open(str(source))
        if not src.streams.audio:
            src.close()
            return
        self._audio_src = src
        ain = src.streams.audio[0]
        self._a = self._out.add_stream_from_template(ain)
        self._audio_tb = ain.time_base
        self._audio_start, self._audio_end = ain.start_time or 0, None
        if audio_range:   # seconds on the source's timeline
            self.set_audio_start(audio_range[0])
            self.set_audio_end(audio_range[1])
        self._audio_packets = src.demux(ain)
        self._pending_audio = None

    def _audio_ticks(self, seconds: float) -> int:
        return int(round(Fraction(seconds).limit_denominator(1 << 30) / self._audio_tb))

    @property
    def has_audio(self) -> bool:
        """True when audio is being copied from ``audio_from``."""
        return self._a is not None

    def set_audio_start(self, seconds: float) -> None:
        """Start the copied audio at ``seconds`` on the source's timeline (shifted to 0 in the output).

        Give the first video frame's time before the first :meth:`write`, so
        picture and sound stay in sync.  Without audio this does nothing.
        """
        if self._a is not None:
            self._audio_start = self._audio_ticks(seconds)

    def set_audio_end(self, seconds: Optional[float]) -> None:
        """End the copied audio at ``seconds`` on the source's timeline (None: at the source's end).

        Call it any time before :meth:`close` (e.g. with the end time of the
        last frame written).  Without audio this does nothing.
        """
        if self._a is not None:
            self._audio_end = self._audio_ticks(seconds) if seconds is not None else None

    def _mux_audio_until(self, seconds: Optional[float]) -> None:
        """Copy audio packets whose start lies before ``seconds`` (all when None)."""
        if self._a is None:
            return
        tb = self._audio_tb
        while True:
            pkt = self._pending_audio
            self._pending_audio = None
            if pkt is None:
                try:
                    pkt = next(self._audio_packets)
                except StopIteration:
                    self._a_done()
                    return
                if pkt.pts is None or not pkt.size:   # the demuxer's final empty packet
                    continue
            if self._audio_end is not None and pkt.pts >= self._audio_end:
                self._a_done()
                return
            if self._audio_start > 0 and pkt.pts + (pkt.duration or 0) <= self._audio_start:
                continue   # ends before the range; from the very start everything is kept (AAC priming too)
            if seconds is not None and float((pkt.pts - self._audio_start) * tb) > seconds:
                self._pending_audio = pkt
                return
            pkt.pts -= self._audio_start
            if pkt.dts is not None:
                pkt.dts -= self._audio_start
            pkt.stream = self._a
            self._out.mux(pkt)

    def _a_done(self) -> None:
        self._audio_packets = iter(())
        self._pending_audio = None

    # -- video -------------------------------------------------------------

    def write(self, image: np.ndarray, pts: Optional[int] = None) -> None:
        """Encode one uint8 (H, W, 3) RGB frame; ``pts`` in ``time_base`` units (default: evenly spaced)."""
        import av

        image = np.asarray(image)
        if image.dtype != np.uint8 or image.shape != (self.height, self.width, 3):
            raise ValueError(f"frame must be uint8 ({self.height}, {self.width}, 3), got {image.dtype} {image.shape}")
        if pts is None:
            pts = 0 if self._last_pts is None else self._last_pts + max(1, int(round(1 / (self.fps * self.time_base)))) \
                if self.fps else self.frames_written
        if self._last_pts is not None and pts <= self._last_pts:
            raise ValueError(f"pts must increase ({pts} after {self._last_pts})")
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
        frame.pts = int(pts)
        frame.time_base = self.time_base
        if self._roi is not None:
            frame = self._roi.apply(frame)
        try:
            for packet in self._v.encode(frame):
                self._out.mux(packet)
            self._mux_audio_until(float(pts * self.time_base))
        except OSError as exc:
            self._fail(exc)
        self._last_pts = int(pts)
        self.frames_written += 1

    def _fail(self, exc: OSError):
        self._cleanup()
        if disk_full(exc):
            raise UserError(f"disk full while writing {self.path}; free some space and run the same "
                            "command again (finished frames are kept in the cache)") from None
        raise exc

    def close(self) -> Path:
        """Flush, copy the rest of the audio, mark 360°, and move the file into place."""
        if self._out is None:
            return self.path
        try:
            if self.frames_written == 0:
                raise UserError(f"no frames were written to {self.path}")
            for packet in self._v.encode(None):
                self._out.mux(packet)
            self._mux_audio_until(None)
            self._out.close()
            self._out = None
            if self._audio_src is not None:
                self._audio_src.close()
                self._audio_src = None
            if self.spherical and self._isobmff:
                inject_spherical_metadata(self._tmp, stereo=self.stereo)
            os.replace(self._tmp, self.path)
        except OSError as exc:
            self._fail(exc)
        except BaseException:
            self._cleanup()
            raise
        return self.path

    def abort(self) -> None:
        """Drop the partial file; nothing appears under the output name."""
        self._cleanup()

    def _cleanup(self) -> None:
        for obj in (getattr(self, "_out", None), getattr(self, "_audio_src", None)):
            if obj is not None:
                try:
                    obj.close()
                except Exception:
                    pass
        self._out = None
        self._audio_src = None
        try:
            Path(self._tmp).unlink()
        except (OSError, AttributeError):
            pass


class PngSequenceWriter(_Output):
    """Write frames as ``frame_000000.png`` ... into ``folder``, which appears only when complete."""

    def __init__(self, folder, start_number: int = 0, pattern: str = "frame_{:06d}.png"):
        self.folder = Path(folder)
        if not self.folder.parent.exists():
            raise UserError(f"folder {self.folder.parent} does not exist; create it first")
        remove_stale_temps(self.folder)
        self._tmp = Path(tempfile.mkdtemp(prefix=f".{self.folder.name}.", suffix=".part.tmp",
                                          dir=str(self.folder.parent)))
        self.pattern = pattern
        self.number = start_number
        self.frames_written = 0

    def write(self, image: np.ndarray, pts=None) -> None:
        import cv2

        path = self._tmp / self.pattern.format(self.number)
        ok = cv2.imwrite(str(path), np.ascontiguousarray(image[..., ::-1]))
        if not ok:
            free = shutil.disk_usage(self._tmp).free
            self.abort()
            raise UserError(f"cannot write {path.name} into {self.folder}"
                            + (" (disk full)" if free < 1 << 20 else "") + "; free space or choose another --png-dir")
        self.number += 1
        self.frames_written += 1

    def close(self) -> Path:
        old = None
        if self.folder.exists():
            old = self.folder.parent / f".{self.folder.name}.old.tmp"
            if old.exists():
                shutil.rmtree(old)
            os.replace(self.folder, old)
        os.replace(self._tmp, self.folder)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return self.folder

    def abort(self) -> None:
        shutil.rmtree(self._tmp, ignore_errors=True)


def read_png_sequence(folder) -> List[np.ndarray]:
    """All ``*.png`` frames of a folder in name order, as uint8 RGB."""
    import cv2

    return [cv2.imread(str(p), cv2.IMREAD_COLOR)[..., ::-1].copy() for p in sorted(Path(folder).glob("*.png"))]
