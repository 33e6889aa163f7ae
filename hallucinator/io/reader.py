"""Decode video with PyAV (FFmpeg): the one decoder core and the frame iterator built on it.

:class:`Decoder` opens a file (hardware decoding when asked, software when
that fails on the first frame), reads the first frame's side data into a
:class:`~hallucinator.io.probe.VideoInfo`, and yields PyAV frames with their
**index**: the frame's place in presentation order counting from 0, whether
it is reached by decoding from the start or after a seek.  Everything that
numbers frames (the dream pipeline, the viewer's threaded source, the pose
log) uses this one numbering, so variable-frame-rate files agree everywhere.

:class:`VideoReader` iterates a file's frames as uint8 HWC RGB
:class:`Frame` objects, turned upright by the display rotation.

Errors the user can fix raise :class:`~hallucinator.errors.UserError`.
"""
from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from fractions import Fraction
from typing import Iterator, Optional, Tuple

import numpy as np

from ..errors import UserError
from .images import over_neutral
from .probe import VideoInfo, bit_depth, fraction, has_alpha, read_side_data

HWACCEL_KINDS = ("cuda", "videotoolbox", "d3d11va", "vaapi")


def _reason(exc) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return text.strip().rstrip(".").replace("\n", " ")[:200]


def _frame_pts(path) -> Optional[np.ndarray]:
    """The sorted presentation timestamps of every video packet (demuxed, not decoded); None if some lack one."""
    import av

    with av.open(str(path)) as c:
        pts = [p.pts for p in c.demux(c.streams.video[0]) if p.size]
    if any(p is None for p in pts):
        return None
    return np.sort(np.asarray(pts, dtype=np.int64))


class Decoder:
    """One open video stream yielding ``(index, av.VideoFrame)`` in presentation order.

    ``frames()`` continues from the current position; ``seek(t)`` moves to the
    key frame at or before ``t`` seconds after time zero (the stream's start).  Indices after
    a seek come from the file's table of packet timestamps (demuxed once, when
    first needed), so they equal the count a decode from the start gives.
    """

    def __init__(self, path, rotate: bool = True, threads: int = 0, hwaccel: bool = False):
        self.path = str(path)
        self.rotate = rotate
        self._threads = threads
        self._pts_table: Optional[np.ndarray] = None
        self._table_built = False
        if not os.path.exists(self.path):
            raise UserError(f"input {self.path} does not exist; check the path")
        self.hwaccel_used: Optional[str] = None
        self._open(hwaccel)
        try:
            first = self._first_frame()
        except UserError:
            if not self.hwaccel_used:
                raise
            self.close()   # the hardware decoder failed on the first frame: decode in software instead
            self._open(False)
            first = self._first_frame()
        self.info = self._info(first)
        # time zero: the stream's start (where the audio clock also starts), else the first frame
        self.start_pts = self.stream.start_time if self.stream.start_time is not None else self.info.start_pts

    # -- opening -----------------------------------------------------------

    def _open(self, hwaccel: bool) -> None:
        import av

        self.hwaccel_used = None
        options = self._hwaccel_options(hwaccel)
        try:
            self.container = av.open(self.path, **options)
        except av.error.FFmpegError as exc:
            if options:   # the hardware decoder cannot start here: decode in software
                return self._open(False)
            raise UserError(f"cannot read {self.path} as a video ({_reason(exc)}); "
                            "it may be truncated or not a video file") from None
        if not self.container.streams.video:
            self.container.close()
            raise UserError(f"{self.path} has no video stream; give a video file")
        self.stream = self.container.streams.video[0]
        self.stream.thread_type = "AUTO"
        if self._threads:
            self.stream.codec_context.thread_count = self._threads
        self.audio_stream = self.container.streams.audio[0] if self.container.streams.audio else None
        self._restart()

    def _hwaccel_options(self, hwaccel: bool) -> dict:
        if not hwaccel:
            return {}
        try:
            from av.codec.hwaccel import HWAccel, hwdevices_available

            for kind in HWACCEL_KINDS:
                if kind in hwdevices_available():
                    self.hwaccel_used = kind
                    return {"hwaccel": HWAccel(device_type=kind, allow_software_fallback=True)}
        except Exception:   # a PyAV without hardware support
            self.hwaccel_used = None
        return {}

    def _first_frame(self):
        """Decode the first frame (kept for ``frames()``); None for a file without frames."""
        first = next(self._source, None)
        self._pending = [first] if first is not None else []
        return first[1] if first is not None else None

    def _info(self, first) -> VideoInfo:
        s, cc = self.stream, self.stream.codec_context
        fmt = cc.pix_fmt or "unknown"
        duration = None
        if s.duration is not None and s.time_base:
            duration = float(s.duration * s.time_base)
        elif self.container.duration:
            duration = self.container.duration / 1_000_000
        side = read_side_data(first) if first is not None else None
        audio = self.audio_stream
        return VideoInfo(
            path=self.path, width=cc.width, height=cc.height,
            fps=fraction(s.average_rate) or fraction(s.guessed_rate),
            time_base=fraction(s.time_base) or Fraction(1, 90000), frames=int(s.frames or 0),
            duration=duration, codec=cc.name, pix_fmt=fmt, bit_depth=bit_depth(fmt),
            has_audio=audio is not None, audio_codec=audio.codec_context.name if audio else None,
            rotation=side.rotation if side and self.rotate else 0,
            projection=side.projection if side else None, stereo=side.stereo if side else None,
            start_pts=int(first.pts) if first is not None and first.pts is not None else 0)

    # -- numbering ---------------------------------------------------------

    def _restart(self) -> None:
        self._pending = []
        self._next_index: Optional[int] = 0
        self._source = self._decode()

    def _table(self) -> Optional[np.ndarray]:
        """The sorted timestamps of all frames (demuxed once, when first needed); None when some lack one."""
        if not self._table_built:
            self._pts_table = _frame_pts(self.path)
            self._table_built = True
        return self._pts_table

    def _index_of(self, pts: Optional[int]) -> int:
        """The presentation-order index of the frame with timestamp ``pts`` (after a seek)."""
        table = self._table()
        if table is not None and pts is not None:
            return int(np.searchsorted(table, pts))
        return int(round(self.seconds(pts) * (self.info.fps or Fraction(25))))

    def seconds(self, pts: Optional[int]) -> float:
        """Seconds from time zero (the stream's start) to the frame with timestamp ``pts``."""
        return float(((pts or 0) - self.start_pts) * self.stream.time_base)

    def frame_count(self) -> int:
        """Frames in the file: the declared count, else counted from the timestamp table."""
        if self.info.frames:
            return self.info.frames
        table = self._table()
        if table is not None:
            return len(table)
        return int(round((self.info.duration or 0.0) * float(self.info.fps or 25)))

    def index_at(self, t: float) -> int:
        """The frame on screen ``t`` seconds after time zero: the last one whose time is at or before ``t``."""
        table = self._table()
        if table is not None and len(table):
            pts = self.start_pts + t / self.stream.time_base
            return max(0, int(np.searchsorted(table, pts + 1e-6, side="right")) - 1)
        return int(round(t * float(self.info.fps or 25)))

    def time_of(self, index: int) -> float:
        """Seconds from time zero to frame ``index`` (clamped to the file's frames)."""
        table = self._table()
        if table is not None and len(table):
            return self.seconds(int(table[max(0, min(int(index), len(table) - 1))]))
        return index / float(self.info.fps or 25)

    # -- decoding ----------------------------------------------------------

    def frames(self) -> Iterator[Tuple[int, object]]:
        """``(index, av.VideoFrame)`` from the current position to the end of the stream.

        Leaving the loop early keeps the position: the next ``frames()`` goes on from there.
        """
        pending, self._pending = self._pending, []
        return itertools.chain(pending, self._source)

    def _decode(self) -> Iterator[Tuple[int, object]]:
        import av

        at = self._next_index if self._next_index is not None else "after the seek point"
        packets = self.container.demux(self.stream)
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                return
            except av.error.FFmpegError as exc:
                raise UserError(f"{self.path} is corrupt or truncated at frame {at} "
                                f"({_reason(exc)}); frames before it are fine — cut the input with "
                                f"--frames 0:{at} or repair the file") from None
            try:
                decoded = packet.decode()
            except av.error.FFmpegError as exc:
                raise UserError(f"{self.path}: frame {at} cannot be decoded ({_reason(exc)}); "
                                f"the file is corrupt there — cut the input with --frames 0:{at} "
                                "or repair it") from None
            for frame in decoded:
                index = self._next_index if self._next_index is not None else self._index_of(frame.pts)
                if getattr(frame, "is_corrupt", False):
                    raise UserError(f"{self.path}: frame {index} is corrupt (the decoder reported "
                                    f"damaged data); cut the input with --frames 0:{index} or repair it")
                self._next_index = at = index + 1
                yield index, frame

    def seek(self, t: float) -> None:
        """Continue decoding from the key frame at or before ``t`` seconds after time zero.

        Containers seek by decode timestamp, so with reordered (B) frames the
        key frame found may show after ``t``; the seek then steps further back.
        """
        target = self.start_pts + int(max(0.0, t) / self.stream.time_base)
        back = 0
        while True:
            at = max(self.start_pts, target - back)
            self.container.seek(at, stream=self.stream, backward=True, any_frame=False)
            self._restart()
            if at > self.start_pts:
                self._next_index = None   # numbered from the timestamp table
            first = next(self._source, None)
            self._pending = [first] if first is not None else []
            shown = first[1].pts if first is not None else None
            if shown is None or shown <= target or at == self.start_pts:
                return
            back = max(2 * back, shown - target)

    def close(self) -> None:
        self.container.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


@dataclass
class Frame:
    index: int           # 0-based presentation-order index (the decoder core's numbering)
    pts: Optional[int]   # in the stream's time base
    time: Optional[float]
    image: np.ndarray    # uint8 (H, W, 3) RGB, rotation applied


def _rotate(image: np.ndarray, rotation: int) -> np.ndarray:
    k = int(round(rotation / 90.0)) % 4
    return np.ascontiguousarray(np.rot90(image, k=k)) if k else image


class VideoReader:
    """Iterate the frames of a video file as uint8 HWC RGB (transparency composited onto neutral grey).

    ``for f in VideoReader(path): f.index, f.pts, f.time, f.image``.  The
    picture is turned upright according to the display matrix (``rotate=True``).
    A decoding error raises :class:`UserError` naming the frame where it
    happened; so does a stream that ends before its declared frame count
    (a truncated file).
    """

    def __init__(self, path, rotate: bool = True, threads: int = 0):
        self._decoder = Decoder(path, rotate=rotate, threads=threads)
        self.path = self._decoder.path
        self.rotate = rotate
        self.info = self._decoder.info
        self._used = False

    def __iter__(self) -> Iterator[Frame]:
        return self.frames()

    def frames(self, start: int = 0, stop: Optional[int] = None) -> Iterator[Frame]:
        """Frames ``start <= index < stop`` (all frames are decoded from the start)."""
        if self._used:
            raise RuntimeError("a VideoReader can be iterated once; open a new one")
        self._used = True
        return self._frames(start, stop)

    def _frames(self, start: int, stop: Optional[int]) -> Iterator[Frame]:
        declared, count, yielded = self.info.frames, 0, 0
        tb = self._decoder.stream.time_base
        alpha = has_alpha(self.info.pix_fmt)
        for index, frame in self._decoder.frames():
            count = index + 1
            if stop is not None and index >= stop:
                break
            if index < start:
                continue
            if alpha:
                image = over_neutral(frame.to_ndarray(format="rgba"))
            else:
                image = frame.to_ndarray(format="rgb24")
            if self.rotate and self.info.rotation:
                image = _rotate(image, self.info.rotation)
            yielded += 1
            yield Frame(index=index, pts=frame.pts,
                        time=float(frame.pts * tb) if frame.pts is not None and tb else None, image=image)
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
        self._decoder.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
