"""Frame sources: still images and videos decoded on a background thread.

A source yields :class:`Frame` objects (uint8 HWC RGB, row 0 at the top, or
the decoder's 4:2:0 planes for the shader) with their index in the file and
presentation time.  :class:`VideoSource` runs the io decoder core
(:class:`hallucinator.io.reader.Decoder`) on its own thread into a small
bounded queue (FFmpeg's own frame threads do the heavy lifting; hardware
decoding is tried when asked for), so the render loop only ever takes ready
frames, numbered exactly as the dream pipeline numbers them.
:func:`open_source` picks the right class for a path.
"""
from __future__ import annotations

import queue
import threading
import time
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from ..errors import UserError
from ..io.images import IMAGE_SUFFIXES
from ..io.probe import Stereo
from ..io.reader import Decoder


def yuv_matrix(colorspace: int = 2, color_range: int = 0, height: int = 0, full_range_format: bool = False):
    """(M, offset) with ``rgb = M @ (yuv - offset)`` for 8-bit Y'CbCr scaled to [0, 1].

    ``colorspace``/``color_range`` are FFmpeg's codes (1 = BT.709, 5/6 = BT.601,
    9 = BT.2020; range 2 = full/JPEG).  Unspecified colour spaces follow the usual
    guess: BT.709 from 720 lines up, BT.601 below.
    """
    if colorspace in (1,):
        kr, kb = 0.2126, 0.0722
    elif colorspace in (9, 10):
        kr, kb = 0.2627, 0.0593
    elif colorspace in (5, 6, 4, 7):
        kr, kb = 0.299, 0.114
    else:
        kr, kb = (0.2126, 0.0722) if height >= 720 else (0.299, 0.114)
    kg = 1.0 - kr - kb
    m = np.array([[1.0, 0.0, 2 * (1 - kr)],
                  [1.0, -2 * kb * (1 - kb) / kg, -2 * kr * (1 - kr) / kg],
                  [1.0, 2 * (1 - kb), 0.0]])
    if color_range == 2 or full_range_format:
        return m, np.array([0.0, 128 / 255, 128 / 255])
    return m @ np.diag([255 / 219, 255 / 224, 255 / 224]), np.array([16 / 255, 128 / 255, 128 / 255])


class Frame:
    """One decoded frame.

    ``planes`` is ``(rgb,)`` (uint8 (H, W, 3)) or ``(y, u, v)`` for 4:2:0 video
    (uint8 2-D views of the decoder's planes, rows possibly padded), which the
    shader converts with ``yuv`` = (matrix, offset).  ``image`` always gives RGB.
    """

    __slots__ = ("index", "time", "loop", "planes", "yuv", "_rgb")

    def __init__(self, index: int, time: float, image: Optional[np.ndarray] = None, loop: int = 0,
                 planes=None, yuv=None):
        self.index = int(index)      # frame number in the file (0-based, presentation order)
        self.time = float(time)      # presentation time in the file, seconds from its first frame
        self.loop = int(loop)        # how many times playback wrapped around before this frame
        self.planes = tuple(planes) if planes is not None else (image,)
        self.yuv = yuv
        self._rgb = image

    @property
    def is_yuv(self) -> bool:
        return self.yuv is not None

    @property
    def width(self) -> int:
        return self.planes[0].shape[1]

    @property
    def height(self) -> int:
        return self.planes[0].shape[0]

    @property
    def image(self) -> np.ndarray:
        """uint8 (H, W, 3) RGB (converted on the CPU for 4:2:0 frames, chroma upsampled bilinearly)."""
        if self._rgb is None:
            import cv2

            if len(self.planes) == 2:   # nv12
                y, uv = self.planes
                u, v = uv[..., 0], uv[..., 1]
            else:
                y, u, v = self.planes
            h, w = y.shape
            uu = cv2.resize(np.ascontiguousarray(u), (w, h), interpolation=cv2.INTER_LINEAR)
            vv = cv2.resize(np.ascontiguousarray(v), (w, h), interpolation=cv2.INTER_LINEAR)
            yuv = np.stack([y, uu, vv], axis=-1).astype(np.float32) / 255.0
            m, off = self.yuv
            rgb = (yuv - off.astype(np.float32)) @ m.T.astype(np.float32)
            self._rgb = np.clip(rgb * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return self._rgb


PLANAR_FORMATS = ("yuv420p", "yuvj420p", "nv12")


def frame_from_av(frame, index: int, t: float, loop: int = 0, planar: bool = True) -> Frame:
    """A :class:`Frame` from a PyAV video frame.

    4:2:0 frames (``yuv420p``, ``yuvj420p``, and ``nv12`` as hardware decoders
    return them) keep the decoder's planes as they are (no copy, no conversion
    on the CPU) when ``planar``; anything else is converted to RGB.
    """
    fmt = frame.format.name
    if planar and fmt in PLANAR_FORMATS:
        planes = []
        for i, p in enumerate(frame.planes):
            a = np.frombuffer(p, np.uint8)[: p.line_size * p.height].reshape(p.height, p.line_size)
            if fmt == "nv12" and i == 1:   # interleaved U, V: two channels per chroma sample
                w = (frame.width + 1) // 2
                planes.append(a[:, : 2 * w].reshape(p.height, w, 2))
            else:
                planes.append(a[:, : p.width])
        m = yuv_matrix(int(frame.colorspace or 2), int(frame.color_range or 0), frame.height, fmt == "yuvj420p")
        return Frame(index, t, None, loop, planes=planes, yuv=m)
    return Frame(index, t, frame.to_ndarray(format="rgb24"), loop)


class _EOF:
    pass


EOF = _EOF()


class ImageSource:
    """A still panorama: one frame, forever."""

    is_still = True
    has_audio = False

    def __init__(self, path):
        self.path = Path(path)
        try:
            from PIL import Image

            with Image.open(self.path) as im:
                self.image = np.asarray(im.convert("RGB"))
        except FileNotFoundError:
            raise UserError(f"{self.path} not found; give an equirectangular image or video") from None
        except Exception as exc:  # PIL raises many kinds
            raise UserError(f"cannot read image {self.path} ({exc}); give a JPEG/PNG equirectangular image") from None
        self.height, self.width = self.image.shape[:2]
        self.fps = 0.0
        self.frame_count = 1
        self.duration = 0.0
        self.stereo = Stereo.MONO

    @classmethod
    def from_array(cls, image: np.ndarray, name: str = "<array>") -> "ImageSource":
        self = cls.__new__(cls)
        self.path = Path(name)
        self.image = np.ascontiguousarray(image, dtype=np.uint8)
        self.height, self.width = self.image.shape[:2]
        self.fps, self.frame_count, self.duration, self.stereo = 0.0, 1, 0.0, Stereo.MONO
        return self

    def start(self, start_s: float = 0.0):
        pass

    def get(self, timeout: Optional[float] = None):
        return Frame(0, 0.0, self.image)

    def frame_at(self, index: int) -> Frame:
        return Frame(0, 0.0, self.image)

    def seek(self, t: float):
        pass

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class VideoSource:
    """A video file decoded on a background thread.

    ``start(start_s)`` launches decoding; ``get(timeout)`` returns the next
    :class:`Frame`, ``None`` when none arrived within ``timeout``, or
    :data:`EOF` at the end (unless ``loop``).  ``seek(t)`` restarts decoding at
    ``t`` seconds; frames queued before the seek are discarded.
    ``frame_at(i)`` decodes synchronously (for export and stills; do not mix
    with the thread).  Frame indices are the io decoder core's: 0, 1, 2, ...
    in presentation order, also for variable frame rates and after seeks.
    """

    is_still = False

    def __init__(self, path, loop: bool = False, queue_size: int = 8, hwaccel: bool = False, planar: bool = True):
        """``planar``: pass 4:2:0 frames as Y/U/V planes for the shader to convert (else RGB on the CPU)."""
        self.path = Path(path)
        self.planar = planar
        if not self.path.is_file():
            raise UserError(f"{self.path} not found; give an equirectangular video or image")
        self._decoder = Decoder(self.path, rotate=False, hwaccel=hwaccel)
        info = self._decoder.info
        self.hwaccel_used = self._decoder.hwaccel_used
        self.fps = float(info.fps or 25)
        self.width, self.height = info.width, info.height
        self.frame_count = self._decoder.frame_count()
        self.duration = info.duration or (self.frame_count / self.fps)
        self.has_audio = info.has_audio
        self.stereo = info.layout or Stereo.MONO   # layouts the viewer cannot show are shown whole
        self.loop = loop
        self._queue: "queue.Queue" = queue.Queue(maxsize=queue_size)
        self._thread: Optional[threading.Thread] = None
        self._stop = threading.Event()
        self._seek_to: Optional[float] = None
        self._generation = 0
        self._lock = threading.Lock()
        self._last_sync: Optional[Frame] = None
        self.decoded = 0
        self.skipped_late = 0     # frames the decoder did not convert because the clock had passed them
        # playback time (s) below which decoded frames are dropped unconverted (set by the player)
        self.drop_before: Optional[Callable[[], float]] = None
        self.decode_seconds = 0.0
        self.error: Optional[BaseException] = None

    # -- synchronous access ------------------------------------------------
    def _convert(self, index: int, frame, loop: int = 0) -> Frame:
        return frame_from_av(frame, index, self._decoder.seconds(frame.pts), loop, self.planar)

    def index_at(self, t: float) -> int:
        """Index of the frame on screen at ``t`` seconds (variable frame rates included)."""
        return self._decoder.index_at(t)

    def frame_at(self, index: int) -> Frame:
        """Decode frame ``index`` (sequential reads are cheap, jumps seek to the key frame before)."""
        index = max(0, min(int(index), max(0, self.frame_count - 1)))
        cur = self._last_sync
        if cur is not None and index == cur.index:
            return cur
        if cur is None or index < cur.index or index > cur.index + 2 * max(1, int(self.fps)):
            self._decoder.seek(self._decoder.time_of(index))
        found = None
        for found in self._decoder.frames():
            if found[0] >= index:
                break
        if found is None:   # the stream ended: the last frame read stays the answer
            if cur is None:
                raise UserError(f"{self.path} has no frame {index}")
            return cur
        self._last_sync = self._convert(*found)
        return self._last_sync

    # -- background decoding -----------------------------------------------
    def start(self, start_s: float = 0.0):
        if self._thread is not None:
            self.seek(start_s)
            return
        self._seek_to = start_s
        self._thread = threading.Thread(target=self._run, name=f"decode:{self.path.name}", daemon=True)
        self._thread.start()

    def seek(self, t: float):
        with self._lock:
            self._seek_to = max(0.0, float(t))
            self._generation += 1
        self._drain()

    def _drain(self):
        try:
            while True:
                self._queue.get_nowait()
        except queue.Empty:
            pass

    def _put(self, item, generation) -> bool:
        while not self._stop.is_set():
            if generation != self._generation:
                return False
            try:
                self._queue.put((generation, item), timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def _run(self):
        loop_count = 0
        try:
            while not self._stop.is_set():
                with self._lock:
                    seek_to, self._seek_to = self._seek_to, None
                    generation = self._generation
                skip_before = -1.0
                if seek_to is not None:
                    loop_count = int(seek_to // self.duration) if (self.loop and self.duration) else 0
                    local = seek_to - loop_count * self.duration if self.loop else seek_to
                    self._decoder.seek(local)
                    skip_before = local - 0.5 / self.fps
                if not self._pump(generation, loop_count, skip_before) or self._stop.is_set():
                    continue
                if self.loop and self.duration:
                    loop_count += 1
                    self._decoder.seek(0.0)
                    continue
                self._put(EOF, generation)
                # wait for a seek or stop
                while not self._stop.is_set() and self._seek_to is None:
                    self._stop.wait(0.02)
        except BaseException as exc:  # surfaced by get()
            self.error = exc
            self._put(EOF, self._generation)

    def _pump(self, generation: int, loop_count: int, skip_before: float) -> bool:
        """Decode into the queue until the end (True) or a seek or stop (False)."""
        t0 = time.perf_counter()
        for index, frame in self._decoder.frames():
            if self._stop.is_set() or self._seek_to is not None:
                return False
            ft = self._decoder.seconds(frame.pts)
            if ft < skip_before:
                continue
            drop = self.drop_before
            if drop is not None and loop_count * self.duration + ft < drop():
                self.skipped_late += 1
                continue
            f = frame_from_av(frame, index, ft, loop_count, self.planar)
            self.decode_seconds += time.perf_counter() - t0   # decoding + conversion, not queue waits
            self.decoded += 1
            if not self._put(f, generation):
                return False
            t0 = time.perf_counter()
        return True

    def get(self, timeout: Optional[float] = None):
        """Next frame, ``None`` on timeout, or :data:`EOF`."""
        while True:
            try:
                generation, item = self._queue.get(timeout=timeout)
            except queue.Empty:
                return None
            if generation != self._generation:
                continue
            if item is EOF and self.error is not None:
                raise UserError(f"decoding {self.path} failed: {self.error}")
            return item

    def close(self):
        self._stop.set()
        self._drain()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None
        self._decoder.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def open_source(path, loop: bool = False, hwaccel: bool = False):
    """An :class:`ImageSource` or :class:`VideoSource` for ``path`` (chosen by suffix)."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path} not found; give an equirectangular image or video")
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return ImageSource(path)
    return VideoSource(path, loop=loop, hwaccel=hwaccel)
