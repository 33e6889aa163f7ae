"""The dream thread between a frame source and the player: decode thread -> dream thread -> player.

:class:`LiveSource` has the viewer's source interface (:mod:`hallucinator.viewer.frames`): the player
takes dreamed frames from it as it takes decoded frames from a file, and its
:class:`~hallucinator.viewer.scheduler.FrameScheduler` shows the newest due one and counts the others
(and the frames the dream thread passed over: they are missing from the indices) as dropped.
:attr:`LiveSource.control` is the matching control: the source frame of every dreamed frame the player
took, in the same order, so the dose mixes the source (0) and its dream (1).

Which frame to dream next is :class:`DreamPicker`'s choice, without threads or clocks: the newest frame
that will be due when its dream is ready (the playback clock plus the dream latency), never one whose
time has not come when an older one is still waiting for it.  With the clock behind the frames (dreaming
runs ahead) frames are dreamed in order; with the clock ahead, older frames are passed over.  A live feed
(a camera: not seekable) always has its newest frame dreamed, shown as soon as it is ready.
"""
from __future__ import annotations

import collections
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Deque, List, Optional, Sequence, Tuple

import numpy as np

from ..errors import UserError
from ..io.probe import Stereo, split_eyes
from ..viewer.frames import EOF, Frame

OUT_QUEUE = 4            # dreamed frames waiting for the player
BACKLOG = 8              # decoded frames waiting for the dream thread
LATENCY_EMA = 0.3        # weight of the newest dream time in the latency estimate
FIRST_DREAM_TIMEOUT_S = 600.0   # the first dream may take long (a cold gradient dream on a CPU, a first CUDA run)


@dataclass
class LiveStats:
    """What the dream thread did: dreamed frames, their latency, frames passed over."""

    dreamed: int = 0
    passed_over: int = 0                 # decoded frames the dream thread skipped (behind the clock)
    latencies_s: List[float] = field(default_factory=list)
    first_done: Optional[float] = None   # monotonic time the first dream was ready
    last_done: Optional[float] = None

    def add(self, latency: float, now: float) -> None:
        self.dreamed += 1
        self.latencies_s.append(latency)
        self.first_done = now if self.first_done is None else self.first_done
        self.last_done = now

    @property
    def fps(self) -> float:
        """Dreamed frames per second, from the first dream ready to the last."""
        if self.dreamed < 2 or not self.last_done or self.last_done <= self.first_done:
            return 0.0
        return (self.dreamed - 1) / (self.last_done - self.first_done)

    @property
    def latency_ms(self) -> float:
        return 1000.0 * float(np.mean(self.latencies_s)) if self.latencies_s else 0.0

    @property
    def latency_p95_ms(self) -> float:
        return 1000.0 * float(np.percentile(self.latencies_s, 95)) if self.latencies_s else 0.0

    def to_dict(self) -> dict:
        return {"dreamed": self.dreamed, "passed_over": self.passed_over, "dreamed_fps": round(self.fps, 2),
                "latency_ms": round(self.latency_ms, 2), "latency_p95_ms": round(self.latency_p95_ms, 2)}

    def line(self) -> str:
        return (f"live: {self.dreamed} frames dreamed at {self.fps:.1f} fps, latency {self.latency_ms:.1f} ms "
                f"(p95 {self.latency_p95_ms:.1f}), {self.passed_over} passed over by the dream thread")


class DreamPicker:
    """Which of the waiting decoded frames to dream next.

    ``choose(waiting, t, latency)``: ``waiting`` in decode order, ``t`` the playback clock (None: not
    started, or every-frame playback: dream in order), ``latency`` the expected seconds to dream one.
    Returns (index into ``waiting`` of the frame to dream, how many before it to pass over).
    """

    def __init__(self, frame_time: Callable[[object], float]):
        self.frame_time = frame_time

    def choose(self, waiting: Sequence, t: Optional[float], latency: float) -> Tuple[int, int]:
        if not waiting:
            raise ValueError("nothing to choose from")
        if t is None:
            return 0, 0
        ready_at = t + latency
        pick = 0
        for i, f in enumerate(waiting):
            if self.frame_time(f) <= ready_at:
                pick = i
            else:
                break
        return pick, pick


def dream_eyes(chains: Sequence, image: np.ndarray) -> np.ndarray:
    """``image`` dreamed by one chain per eye (two: top-bottom stereo, left eye on top)."""
    if len(chains) == 1:
        return chains[0].dream(image)
    eyes = [c.dream(np.ascontiguousarray(part)) for c, part in zip(chains, split_eyes(image, len(chains)))]
    return np.concatenate(eyes, axis=0)


class LiveControl:
    """The control of a :class:`LiveSource`: the source frame of each dreamed frame the player took."""

    is_still = False
    has_audio = False

    def __init__(self, live: "LiveSource"):
        self.live = live
        self.path = live.path
        self._frames: Deque = collections.deque()
        self._cond = threading.Condition()

    def __getattr__(self, name):   # fps, duration, frame_count, stereo, width, height: the source's
        if name in ("fps", "duration", "frame_count", "stereo", "width", "height"):
            return getattr(self.live, name)
        raise AttributeError(name)

    def push(self, frame) -> None:
        with self._cond:
            self._frames.append(frame)
            self._cond.notify_all()

    def start(self, start_s: float = 0.0):
        pass

    def get(self, timeout: Optional[float] = None):
        with self._cond:
            if not self._frames:
                self._cond.wait(timeout)
            return self._frames.popleft() if self._frames else None

    def seek(self, t: float):
        with self._cond:
            self._frames.clear()

    def close(self):
        pass


class LiveSource:
    """Frames of ``source`` (a :class:`~hallucinator.viewer.frames.VideoSource` giving RGB, or a camera),
    dreamed on a thread by one ``engine`` chain per eye.

    The player sets :meth:`follow_clock` (the playback clock, read by the dream thread to pass over frames it
    could only show late).  Close it (or use it as a context manager) before the source: it stops the thread.
    """

    is_still = False

    def __init__(self, source, engine, stereo: Stereo = Stereo.MONO, out_queue: int = OUT_QUEUE,
                 backlog: int = BACKLOG, clock: Callable[[], float] = time.monotonic):
        self.src = source
        self.engine = engine
        self.layout = stereo
        self.chains = [engine.chain() for _ in range(stereo.eyes)]   # a stateless engine gives itself twice
        self.path = source.path
        self.has_audio = getattr(source, "has_audio", False)
        self.seekable = getattr(source, "seekable", True)
        self.stats = LiveStats()
        self.control = LiveControl(self)
        self.picker = DreamPicker(self.frame_time)
        self._monotonic = clock
        self._playback_clock: Optional[Callable[[], float]] = None
        self._out: "queue.Queue" = queue.Queue(maxsize=out_queue)
        self._backlog_max = backlog
        self._waiting: Deque = collections.deque()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._generation = 0
        self._thread: Optional[threading.Thread] = None
        self._latency: Optional[float] = None
        self._delivered = 0
        self.error: Optional[BaseException] = None

    # -- what the player reads ---------------------------------------------------------------------------
    @property
    def fps(self) -> float:
        return float(getattr(self.src, "fps", 0.0) or 0.0)

    @property
    def duration(self) -> float:
        return float(getattr(self.src, "duration", 0.0) or 0.0)

    @property
    def frame_count(self) -> int:
        return int(getattr(self.src, "frame_count", 0) or 0)

    @property
    def stereo(self) -> Stereo:
        return self.layout

    def frame_time(self, frame) -> float:
        return frame.loop * self.duration + frame.time

    def follow_clock(self, playback_time: Optional[Callable[[], float]]) -> None:
        """The playback clock (seconds on the playback timeline), or None for every-frame playback."""
        self._playback_clock = playback_time
        if playback_time is not None and self.fps and hasattr(self.src, "drop_before"):
            late = max(3.0 / self.fps, 0.1)   # as the player asks of a file: do not convert hopeless frames
            self.src.drop_before = lambda: playback_time() - late

    def status_text(self) -> str:
        s = self.stats
        return f"dreamed {s.fps:4.1f} fps  latency {s.latency_ms:5.0f} ms"

    # -- the thread ----------------------------------------------------------------------------------------
    def start(self, start_s: float = 0.0):
        if self._thread is None:
            self.src.start(start_s)
            self._thread = threading.Thread(target=self._run, name=f"dream:{self.path}", daemon=True)
            self._thread.start()
        else:
            self.seek(start_s)

    def _fill(self) -> bool:
        """Take decoded frames into the backlog; False when the source ended (EOF waiting last)."""
        while len(self._waiting) < self._backlog_max:
            f = self.src.get(timeout=0 if self._waiting else 0.05)
            if f is None:
                return True
            self._waiting.append(f)
            if f is EOF:
                return False
        return True

    def _run(self):
        try:
            generation = -1
            while not self._stop.is_set():
                with self._lock:
                    if generation != self._generation:   # started or seeked: start the chains afresh
                        generation = self._generation
                        self._waiting.clear()
                        for c in self.chains:
                            c.reset()
                self._fill()
                frames = [f for f in self._waiting if f is not EOF]
                if not frames:
                    if self._waiting and self._waiting[0] is EOF:
                        self._waiting.clear()
                        self._put(EOF, generation)
                        while not self._stop.is_set() and generation == self._generation:
                            self._stop.wait(0.02)
                    continue
                clock = self._playback_clock
                now = clock() if clock is not None else None
                # a live feed (a camera) has nothing to wait for: its newest frame is dreamed
                pick, skip = self.picker.choose(frames, float("inf") if not self.seekable else now,
                                                self._latency or 0.0)
                for _ in range(pick + 1):
                    self._waiting.popleft()
                self.stats.passed_over += skip
                frame = frames[pick]
                t0 = self._monotonic()
                dreamed = self._dream(frame.image)
                done = self._monotonic()
                took = done - t0
                self._latency = took if self._latency is None else \
                    (1 - LATENCY_EMA) * self._latency + LATENCY_EMA * took
                self.stats.add(took, done)
                when = frame.time
                if not self.seekable:   # a live feed's frame is due as soon as it is dreamed
                    when = clock() if clock is not None else 0.0
                out = Frame(frame.index, when, dreamed, frame.loop)
                src = Frame(frame.index, when, np.ascontiguousarray(frame.image), frame.loop)
                self._put((out, src), generation)
        except BaseException as exc:   # surfaced by get()
            self.error = exc
            self._put(EOF, self._generation)

    def _dream(self, image: np.ndarray) -> np.ndarray:
        return dream_eyes(self.chains, image)

    def _put(self, item, generation) -> None:
        while not self._stop.is_set() and generation == self._generation:
            try:
                self._out.put((generation, item), timeout=0.05)
                return
            except queue.Full:
                continue

    # -- the player's side ----------------------------------------------------------------------------------
    def get(self, timeout: Optional[float] = None):
        """The next dreamed frame, None on timeout, or EOF.  The first one is waited for however long the
        engine takes (a cold gradient dream on a CPU takes seconds)."""
        while True:
            first = self._delivered == 0 and timeout is not None and timeout > 0
            try:
                generation, item = self._out.get(timeout=max(timeout, FIRST_DREAM_TIMEOUT_S) if first else timeout)
            except queue.Empty:
                return None
            if generation != self._generation:
                continue
            if item is EOF:
                if self.error is not None:
                    raise (self.error if isinstance(self.error, UserError)
                           else UserError(f"live dreaming of {self.path} failed: {self.error}"))
                self.control.push(EOF)
                return EOF
            out, src = item
            self._delivered += 1
            self.control.push(src)
            return out

    def seek(self, t: float):
        if not self.seekable:
            return
        with self._lock:
            self._generation += 1
            self.src.seek(t)
        try:
            while True:
                self._out.get_nowait()
        except queue.Empty:
            pass
        self.control.seek(t)

    def close(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
