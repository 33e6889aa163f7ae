"""Decode and encode video with PyAV (FFmpeg), keep audio, mark 360° output.

* :class:`VideoReader` iterates the frames of any file FFmpeg reads as uint8
  HWC RGB arrays (10-bit and odd-sized sources included), with their index,
  pts and time, the display rotation applied, and reports the stream's frame
  rate, time base, declared frame count, audio, rotation and the spherical
  projection / stereo layout found in its side data.
* :class:`VideoWriter` encodes H.264 or H.265 into MP4/MOV/MKV, copies the
  source's audio packets unchanged (no re-encode), keeps the source's time
  base and timestamps (variable frame rate survives), and marks the output as
  360° with both the Spherical Video V2 boxes (``sv3d`` + ``st3d`` inside the
  visual sample entry) and the V1 XML ``uuid`` box in the video track, which
  FFmpeg/ffprobe, YouTube and common players recognise.  It writes to a
  temporary name in the output's folder and renames when complete.
* :class:`PngSequenceWriter` writes numbered PNG files into a folder that
  appears under its final name only when complete.

Errors the user can fix raise :class:`~hallucinator.errors.UserError`.
"""
from __future__ import annotations

import errno
import os
import shutil
import struct
import tempfile
import uuid as _uuid
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator, List, Optional, Tuple

import numpy as np

from ..errors import UserError
from ..atomic import atomic_write, temp_path

SPHERICAL_V1_UUID = _uuid.UUID("ffcc8263-f855-4a93-8814-587a02521fdd").bytes
STEREO_MODES = ("mono", "top-bottom", "left-right")
# AVSphericalProjection / AVStereo3DType values (libavutil/spherical.h, stereo3d.h)
_PROJECTIONS = {0: "equirectangular", 1: "cubemap", 2: "equirectangular-tile", 3: "half-equirectangular",
                4: "rectilinear", 5: "fisheye", 6: "parametric-immersive"}
_STEREO_TYPES = {0: "mono", 1: "left-right", 2: "top-bottom", 3: "frame-sequence", 4: "checkerboard",
                 5: "left-right-quincunx", 6: "lines", 7: "columns", 8: "unspecified"}


def _av():
    import av  # imported lazily: the CLI starts fast and tests can skip cleanly

    return av


def disk_full(exc: BaseException) -> bool:
    """True when an OSError means the disk (or the file size limit) is full."""
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def fraction(x) -> Optional[Fraction]:
    if x is None:
        return None
    return Fraction(x.numerator, x.denominator) if hasattr(x, "numerator") else Fraction(x)


# ----------------------------------------------------------------------------
# reading


@dataclass
class VideoInfo:
    """What a video file holds, as far as the container says."""

    path: str
    width: int                 # of the decoded picture before rotation
    height: int
    fps: Optional[Fraction]    # average frame rate
    time_base: Fraction
    frames: int                # declared frame count, 0 when the container does not say
    duration: Optional[float]  # seconds
    codec: str
    pix_fmt: str
    bit_depth: int
    has_audio: bool
    audio_codec: Optional[str]
    rotation: int              # degrees counter-clockwise the picture must turn to display upright
    projection: Optional[str]  # from spherical side data ("equirectangular"), None when absent
    stereo: Optional[str]      # from stereo side data ("top-bottom", ...), None when absent
    start_pts: int

    @property
    def display_size(self) -> Tuple[int, int]:
        """(width, height) after the rotation is applied."""
        return (self.height, self.width) if self.rotation % 180 else (self.width, self.height)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["fps"] = str(self.fps) if self.fps else None
        d["time_base"] = str(self.time_base)
        return d


@dataclass
class Frame:
    index: int           # 0-based decode order index (presentation order for normal streams)
    pts: Optional[int]   # in the stream's time base
    time: Optional[float]
    image: np.ndarray    # uint8 (H, W, 3) RGB, rotation applied


def _parse_side_data(frame) -> Tuple[Optional[str], Optional[str], int]:
    projection = stereo = None
    av = _av()
    T = av.sidedata.sidedata.Type
    try:
        items = list(frame.side_data)
    except Exception:  # pragma: no cover - very old PyAV
        items = []
    for sd in items:
        raw = bytes(sd)
        if sd.type == T.SPHERICAL and len(raw) >= 4:
            projection = _PROJECTIONS.get(struct.unpack_from("<i", raw)[0], "unknown")
        elif sd.type == T.STEREO3D and len(raw) >= 4:
            stereo = _STEREO_TYPES.get(struct.unpack_from("<i", raw)[0], "unknown")
    rotation = int(round(getattr(frame, "rotation", 0) or 0))
    return projection, stereo, rotation


def _rotate(image: np.ndarray, rotation: int) -> np.ndarray:
    k = int(round(rotation / 90.0)) % 4
    return np.ascontiguousarray(np.rot90(image, k=k)) if k else image


class VideoReader:
    """Iterate the frames of a video file as uint8 HWC RGB.

    ``for f in VideoReader(path): f.index, f.pts, f.time, f.image``.  The
    picture is turned upright according to the display matrix (``rotate=True``).
    A decoding error raises :class:`UserError` naming the frame where it
    happened; so does a stream that ends before its declared frame count
    (a truncated file).
    """

    def __init__(self, path, rotate: bool = True, threads: int = 0):
        av = _av()
        self.path = str(path)
        self.rotate = rotate
        if not os.path.exists(self.path):
            raise UserError(f"input {self.path} does not exist; check the path")
        try:
            self._container = av.open(self.path)
        except av.error.FFmpegError as exc:
            raise UserError(f"cannot read {self.path} as a video ({_reason(exc)}); "
                            "it may be truncated or not a video file") from None
        if not self._container.streams.video:
            self._container.close()
            raise UserError(f"{self.path} has no video stream; give a video file")
        self.stream = self._container.streams.video[0]
        self.stream.thread_type = "AUTO"
        if threads:
            self.stream.codec_context.thread_count = threads
        self.audio_stream = self._container.streams.audio[0] if self._container.streams.audio else None
        self._first = None
        self._probe()

    # -- probing -----------------------------------------------------------

    def _probe(self) -> None:
        s = self.stream
        cc = s.codec_context
        fmt = cc.pix_fmt or "unknown"
        depth = 8
        for d in (16, 14, 12, 10, 9):
            if f"p{d}" in fmt or fmt.endswith(f"{d}le") or fmt.endswith(f"{d}be"):
                depth = d
                break
        duration = None
        if s.duration is not None and s.time_base:
            duration = float(s.duration * s.time_base)
        elif self._container.duration:
            duration = self._container.duration / 1_000_000
        fps = fraction(s.average_rate) or fraction(s.guessed_rate)
        # side data (rotation, spherical, stereo) reach us through the first decoded frame
        projection = stereo = None
        rotation = 0
        self._iter = self._decode()
        try:
            first = next(self._iter)
        except StopIteration:
            first = None
        if first is not None:
            projection, stereo, rotation = _parse_side_data(first[1])
        self._first = first
        self.info = VideoInfo(
            path=self.path, width=cc.width, height=cc.height, fps=fps,
            time_base=fraction(s.time_base) or Fraction(1, 90000), frames=int(s.frames or 0),
            duration=duration, codec=cc.name, pix_fmt=fmt, bit_depth=depth,
            has_audio=self.audio_stream is not None,
            audio_codec=self.audio_stream.codec_context.name if self.audio_stream else None,
            rotation=rotation if self.rotate else 0, projection=projection, stereo=stereo,
            start_pts=int(first[1].pts) if first is not None and first[1].pts is not None else 0)

    # -- properties ----------------------------------------------------------

    @property
    def fps(self) -> Optional[Fraction]:
        return self.info.fps

    @property
    def time_base(self) -> Fraction:
        return self.info.time_base

    @property
    def frame_count(self) -> int:
        return self.info.frames

    @property
    def has_audio(self) -> bool:
        return self.info.has_audio

    @property
    def rotation(self) -> int:
        return self.info.rotation

    @property
    def stereo(self) -> Optional[str]:
        return self.info.stereo

    # -- decoding ------------------------------------------------------------

    def _decode(self):
        av = _av()
        index = 0
        packets = self._container.demux(self.stream)
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                break
            except av.error.FFmpegError as exc:
                raise UserError(f"{self.path} is corrupt or truncated at frame {index} "
                                f"({_reason(exc)}); frames before it are fine — cut the input with "
                                f"--frames 0:{index} or repair the file") from None
            try:
                decoded = packet.decode()
            except av.error.FFmpegError as exc:
                raise UserError(f"{self.path}: frame {index} cannot be decoded ({_reason(exc)}); "
                                f"the file is corrupt there — cut the input with --frames 0:{index} "
                                "or repair it") from None
            for frame in decoded:
                if getattr(frame, "is_corrupt", False):
                    raise UserError(f"{self.path}: frame {index} is corrupt (the decoder reported "
                                    f"damaged data); cut the input with --frames 0:{index} or repair it")
                yield index, frame
                index += 1
        self._decoded = index

    def __iter__(self) -> Iterator[Frame]:
        return self.frames()

    def frames(self, start: int = 0, stop: Optional[int] = None) -> Iterator[Frame]:
        """Frames ``start <= index < stop`` (all frames are decoded from the start)."""
        if self._iter is None:
            raise RuntimeError("a VideoReader can be iterated once; open a new one")
        it, first, self._iter, self._first = self._iter, self._first, None, None
        declared = self.info.frames
        count = 0

        def gen():
            nonlocal count
            if first is not None:
                yield first
            yield from it

        tb = self.stream.time_base
        yielded = 0
        for index, frame in gen():
            count = index + 1
            if stop is not None and index >= stop:
                break
            if index < start:
                continue
            image = frame.to_ndarray(format="rgb24")
            if self.rotate and self.info.rotation:
                image = _rotate(image, self.info.rotation)
            yielded += 1
            yield Frame(index=index, pts=frame.pts,
                        time=float(frame.pts * tb) if frame.pts is not None and tb else None,
                        image=image)
        else:
            if count == 0:
                raise UserError(f"{self.path} has no video frames; give a file with at least one frame")
            if declared and count < declared and (stop is None or count < stop):
                raise UserError(f"{self.path} is truncated: it declares {declared} frames but frame "
                                f"{count} cannot be read; use --frames 0:{count} or repair the file")
            if yielded == 0:
                raise UserError(f"{self.path} has {count} frames; the range starting at frame {start} is past "
                                f"its end — choose --frames A:B with A < {count}")

    def close(self) -> None:
        self._container.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _reason(exc) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return text.strip().rstrip(".").replace("\n", " ")[:200]


def probe(path) -> VideoInfo:
    """Open a video, read its first frame's side data, and return :class:`VideoInfo`."""
    with VideoReader(path) as r:
        return r.info


def count_frames(path) -> int:
    """Count the frames by demuxing (no decode); for files that do not declare a count."""
    av = _av()
    with av.open(str(path)) as c:
        return sum(1 for p in c.demux(c.streams.video[0]) if p.size)


# ----------------------------------------------------------------------------
# atomic files


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


# ----------------------------------------------------------------------------
# writing


class VideoWriter:
    """Encode uint8 HWC RGB frames into a video file, atomically.

    ``time_base`` and per-frame ``pts`` keep the source's timing exactly
    (variable frame rate included); with only ``fps`` frames are spaced
    evenly.  ``audio_from`` names a file whose first audio stream is copied
    packet by packet (no re-encode), restricted to ``audio_range`` = ``(start,
    end)`` seconds on the source's timeline when given (``end`` None: to the
    end), and shifted so that ``start`` becomes 0 (give the first video
    frame's time, so picture and sound stay in sync).
    ``spherical`` marks the result as an equirectangular 360° video (MP4/MOV);
    ``stereo`` is its layout: "mono", "top-bottom" or "left-right".
    """

    def __init__(self, path, fps=None, width: int = 0, height: int = 0, *, time_base=None,
                 codec: str = "libx264", crf: int = 18, preset: str = "medium", pix_fmt: str = "yuv420p",
                 audio_from=None, audio_range: Optional[Tuple[float, Optional[float]]] = None,
                 spherical: bool = True, stereo: str = "mono", metadata: Optional[dict] = None,
                 threads: int = 0):
        av = _av()
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
        suffix = self.path.suffix.lower()
        if suffix not in (".mp4", ".mov", ".m4v", ".mkv"):
            raise UserError(f"output {self.path} must end in .mp4, .mov, .m4v or .mkv")
        self._isobmff = suffix in (".mp4", ".mov", ".m4v")
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
            self._audio_src = None
            self._a = None
            if audio_from is not None:
                self._open_audio(audio_from, audio_range)
        except Exception:
            self._cleanup()
            raise

    # -- audio -------------------------------------------------------------

    def _open_audio(self, source, audio_range) -> None:
        av = _av()
        src = av.open(str(source))
        if not src.streams.audio:
            src.close()
            return
        self._audio_src = src
        ain = src.streams.audio[0]
        self._a = self._out.add_stream_from_template(ain)
        tb = ain.time_base
        if audio_range:   # seconds on the source's timeline
            start, end = audio_range
            self._audio_start = int(round(Fraction(start).limit_denominator(1 << 30) / tb))
            self._audio_end = int(round(Fraction(end).limit_denominator(1 << 30) / tb)) if end is not None else None
        else:
            self._audio_start, self._audio_end = ain.start_time or 0, None
        self._audio_tb = tb
        self._audio_packets = src.demux(ain)
        self._pending_audio = None

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
        av = _av()
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

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()


class PngSequenceWriter:
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

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()


def read_png_sequence(folder) -> List[np.ndarray]:
    """All ``*.png`` frames of a folder in name order, as uint8 RGB."""
    import cv2

    return [cv2.imread(str(p), cv2.IMREAD_COLOR)[..., ::-1].copy() for p in sorted(Path(folder).glob("*.png"))]


# ----------------------------------------------------------------------------
# 360° metadata in ISO BMFF (MP4/MOV)

_CONTAINER_BOXES = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"dinf", b"udta", b"mvex"}
_VISUAL_ENTRIES = {b"avc1", b"avc3", b"hvc1", b"hev1", b"mp4v", b"av01", b"vp09", b"dvh1", b"dvhe"}


class _Box:
    __slots__ = ("type", "prefix", "children", "payload")

    def __init__(self, type_: bytes, payload: bytes = b"", prefix: bytes = b"", children=None):
        self.type, self.payload, self.prefix, self.children = type_, payload, prefix, children

    def body(self) -> bytes:
        if self.children is None:
            return self.payload
        return self.prefix + b"".join(c.serialize() for c in self.children)

    def serialize(self) -> bytes:
        body = self.body()
        if len(body) + 8 < 1 << 32:
            return struct.pack(">I4s", len(body) + 8, self.type) + body
        return struct.pack(">I4sQ", 1, self.type, len(body) + 16) + body

    def find(self, type_: bytes) -> List["_Box"]:
        return [c for c in (self.children or []) if c.type == type_]


def _parse_boxes(buf: bytes, parent: Optional[bytes] = None) -> List[_Box]:
    boxes, pos = [], 0
    while pos + 8 <= len(buf):
        size, type_ = struct.unpack_from(">I4s", buf, pos)
        header = 8
        if size == 1:
            size = struct.unpack_from(">Q", buf, pos + 8)[0]
            header = 16
        elif size == 0:
            size = len(buf) - pos
        if size < header or pos + size > len(buf):
            raise ValueError(f"bad box {type_!r} at {pos}")
        body = buf[pos + header:pos + size]
        if type_ in _CONTAINER_BOXES:
            boxes.append(_Box(type_, children=_parse_boxes(body, type_)))
        elif type_ == b"stsd":
            boxes.append(_Box(type_, prefix=body[:8], children=_parse_boxes(body[8:], type_)))
        elif parent == b"stsd" and type_ in _VISUAL_ENTRIES:
            boxes.append(_Box(type_, prefix=body[:78], children=_parse_boxes(body[78:], type_)))
        else:
            boxes.append(_Box(type_, payload=body))
        pos += size
    return boxes


def _full_box(type_: bytes, payload: bytes, version: int = 0, flags: int = 0) -> _Box:
    return _Box(type_, payload=struct.pack(">I", (version << 24) | flags) + payload)


def spherical_v2_boxes(stereo: str = "mono") -> List[_Box]:
    """``st3d`` and ``sv3d`` boxes (Spherical Video V2) for an equirectangular picture."""
    st3d = _full_box(b"st3d", struct.pack(">B", STEREO_MODES.index(stereo)))
    svhd = _full_box(b"svhd", b"Hallucinator\x00")
    prhd = _full_box(b"prhd", struct.pack(">iii", 0, 0, 0))
    equi = _full_box(b"equi", struct.pack(">IIII", 0, 0, 0, 0))
    sv3d = _Box(b"sv3d", children=[svhd, _Box(b"proj", children=[prhd, equi])])
    return [st3d, sv3d]


def spherical_v1_box(stereo: str = "mono") -> _Box:
    """The V1 ``uuid`` box with the GSpherical XML (read by YouTube and older players)."""
    stereo_xml = {"mono": "", "top-bottom": "<GSpherical:StereoMode>top-bottom</GSpherical:StereoMode>",
                  "left-right": "<GSpherical:StereoMode>left-right</GSpherical:StereoMode>"}[stereo]
    xml = ('<?xml version="1.0"?><rdf:SphericalVideo xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
           'xmlns:GSpherical="http://ns.google.com/videos/1.0/spherical/">'
           "<GSpherical:Spherical>true</GSpherical:Spherical><GSpherical:Stitched>true</GSpherical:Stitched>"
           "<GSpherical:StitchingSoftware>Hallucinator</GSpherical:StitchingSoftware>"
           "<GSpherical:ProjectionType>equirectangular</GSpherical:ProjectionType>"
           f"{stereo_xml}</rdf:SphericalVideo>")
    return _Box(b"uuid", payload=SPHERICAL_V1_UUID + xml.encode())


def _is_video_trak(trak: _Box) -> bool:
    for mdia in trak.find(b"mdia"):
        for hdlr in mdia.find(b"hdlr"):
            if hdlr.payload[8:12] == b"vide":
                return True
    return False


def _shift_chunk_offsets(box: _Box, delta: int) -> None:
    if box.type == b"stco":
        n = struct.unpack_from(">I", box.payload, 4)[0]
        offs = np.frombuffer(box.payload, ">u4", n, 8).astype(np.int64) + delta
        box.payload = box.payload[:8] + offs.astype(">u4").tobytes()
    elif box.type == b"co64":
        n = struct.unpack_from(">I", box.payload, 4)[0]
        offs = np.frombuffer(box.payload, ">u8", n, 8).astype(np.int64) + delta
        box.payload = box.payload[:8] + offs.astype(">u8").tobytes()
    for c in box.children or []:
        _shift_chunk_offsets(c, delta)


def inject_spherical_metadata(path, stereo: str = "mono", v1: bool = True, v2: bool = True) -> None:
    """Mark an MP4/MOV file as equirectangular 360°, in place (through a temporary copy).

    Adds ``st3d`` + ``sv3d`` to the video sample entry and the V1 ``uuid`` box
    to the video track; fixes chunk offsets when ``moov`` precedes ``mdat``.
    """
    path = Path(path)
    with open(path, "rb") as f:
        top = []   # (type, offset, size)
        size_total = os.fstat(f.fileno()).st_size
        pos = 0
        while pos + 8 <= size_total:
            f.seek(pos)
            size, type_ = struct.unpack(">I4s", f.read(8))
            if size == 1:
                size = struct.unpack(">Q", f.read(8))[0]
            elif size == 0:
                size = size_total - pos
            top.append((type_, pos, size))
            pos += size
        moovs = [t for t in top if t[0] == b"moov"]
        if not moovs:
            raise ValueError(f"{path} has no moov box")
        _, moov_off, moov_size = moovs[0]
        f.seek(moov_off)
        moov = _parse_boxes(f.read(moov_size))[0]
    for trak in moov.find(b"trak"):
        if not _is_video_trak(trak):
            continue
        if v1:
            trak.children = [c for c in trak.children if not (c.type == b"uuid" and c.payload[:16] == SPHERICAL_V1_UUID)]
            idx = next((i + 1 for i, c in enumerate(trak.children) if c.type == b"tkhd"), 0)
            # FFmpeg refuses a file that states the stereo layout twice: with V2 present, st3d carries it
            trak.children.insert(idx, spherical_v1_box("mono" if v2 else stereo))
        if v2:
            for stsd in (b for mdia in trak.find(b"mdia") for minf in mdia.find(b"minf")
                         for stbl in minf.find(b"stbl") for b in stbl.find(b"stsd")):
                for entry in stsd.children:
                    if entry.children is not None:
                        entry.children = [c for c in entry.children if c.type not in (b"st3d", b"sv3d")]
                        entry.children.extend(spherical_v2_boxes(stereo))
    new_moov = moov.serialize()
    delta = len(new_moov) - moov_size
    if delta and any(t[0] == b"mdat" and t[1] > moov_off for t in top):
        _shift_chunk_offsets(moov, delta)
        new_moov = moov.serialize()

    def rewrite(tmp):
        with open(path, "rb") as src, open(tmp, "wb") as dst:
            for type_, off, size in top:
                if off == moov_off:
                    dst.write(new_moov)
                else:
                    src.seek(off)
                    remaining = size
                    while remaining:
                        chunk = src.read(min(remaining, 1 << 22))
                        if not chunk:
                            break
                        dst.write(chunk)
                        remaining -= len(chunk)

    atomic_write(path, rewrite, "meta")
