"""Cameras as frame sources: ``camera:N`` is V4L2 device ``/dev/videoN``, read through PyAV, else OpenCV.

:class:`CameraSource` has the viewer's source interface (:mod:`hallucinator.viewer.frames`): frames are
read on a thread into a small queue that keeps the newest (a live feed never waits for the reader), each
numbered in arrival order and stamped with seconds since the first one.  A camera that cannot be opened is
a :class:`~hallucinator.errors.UserError` before anything else starts.
"""
from __future__ import annotations

import queue
import re
import threading
import time
from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import UserError
from ..io.probe import Stereo
from ..viewer.frames import Frame

CAMERA_PREFIX = "camera:"
CAMERA_QUEUE = 2   # frames kept for the reader; older ones are dropped (they count as dropped in playback)


def parse_camera(text) -> Optional[int]:
    """``camera:N`` -> N; anything else (a file) -> None.  ``camera:`` with no number is a UserError."""
    s = str(text)
    if not s.lower().startswith(CAMERA_PREFIX):
        return None
    m = re.fullmatch(r"\s*(\d{1,3})\s*", s[len(CAMERA_PREFIX):])
    if m is None:
        raise UserError(f"{s!r} is not a camera; write camera:N with N the V4L2 device number "
                        "(camera:0 is /dev/video0)")
    return int(m.group(1))


def _open_pyav(number: int):
    import av

    dev = f"/dev/video{number}"
    if not Path(dev).exists():
        raise OSError(f"{dev} does not exist")
    container = av.open(dev, format="v4l2")
    stream = container.streams.video[0]
    fps = float(stream.average_rate or stream.guessed_rate or 30)

    def frames():
        for frame in container.decode(stream):
            yield frame.to_ndarray(format="rgb24")
    return container, fps, frames


def _open_opencv(number: int):
    import cv2

    quiet = cv2.utils.logging
    level = quiet.getLogLevel()
    quiet.setLogLevel(quiet.LOG_LEVEL_SILENT)     # its own warnings would come before our one-line error
    try:
        cap = cv2.VideoCapture(number, cv2.CAP_V4L2)
    finally:
        quiet.setLogLevel(level)
    if not cap.isOpened():
        cap.release()
        raise OSError("OpenCV could not open it")
    ok, first = cap.read()
    if not ok:
        cap.release()
        raise OSError("OpenCV opened it but read no frame")
    fps = float(cap.get(cv2.CAP_PROP_FPS) or 30)

    def frames():
        yield cv2.cvtColor(first, cv2.COLOR_BGR2RGB)
        while True:
            ok, bgr = cap.read()
            if not ok:
                return
            yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    return cap, fps, frames


class CameraSource:
    """A V4L2 camera, read on a background thread (the viewer's source interface; no seeking, no end)."""

    is_still = False
    has_audio = False
    seekable = False

    def __init__(self, number: int, queue_size: int = CAMERA_QUEUE):
        self.path = Path(f"{CAMERA_PREFIX}{number}")
        errors = []
        for opener in (_open_pyav, _open_opencv):
            try:
                self._handle, self.fps, self._frames = opener(number)
                break
            except Exception as exc:   # each backend fails in its own way
                errors.append(f"{opener.__name__[6:]}: {exc}")
        else:
            raise UserError(f"camera:{number} cannot be opened ({'; '.join(errors)}); connect the camera, close "
                            "programs using it, or give a video file")
        self.duration = 0.0            # a live feed has no length: frame times count from its first frame
        self.frame_count = 0
        self.stereo = Stereo.MONO
        self.width = self.height = 0
        self.drop_before = None
        self.error: Optional[BaseException] = None
        self._queue: "queue.Queue" = queue.Queue(maxsize=queue_size)
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def start(self, start_s: float = 0.0):
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"camera:{self.path}", daemon=True)
            self._thread.start()

    def _run(self):
        t0 = None
        try:
            for index, image in enumerate(self._frames()):
                if self._stop.is_set():
                    return
                now = time.monotonic()
                t0 = now if t0 is None else t0
                self.height, self.width = image.shape[:2]
                frame = Frame(index, now - t0, np.ascontiguousarray(image))
                while True:   # keep the newest: drop the oldest waiting frame when full
                    try:
                        self._queue.put_nowait(frame)
                        break
                    except queue.Full:
                        try:
                            self._queue.get_nowait()
                        except queue.Empty:
                            pass
        except BaseException as exc:   # surfaced by get()
            self.error = exc
        finally:
            self._stop.set()

    def get(self, timeout: Optional[float] = None):
        from ..viewer.frames import EOF

        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            if self._stop.is_set():
                if self.error is not None:
                    raise UserError(f"reading {self.path} failed: {self.error}") from None
                return EOF
            return None

    def seek(self, t: float):
        pass

    def close(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        try:
            (self._handle.close if hasattr(self._handle, "close") else self._handle.release)()
        except Exception:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
