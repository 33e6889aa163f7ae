"""Which video frame to show, and when: the playback loop's decisions, without OpenGL, threads or clocks.

The player asks a :class:`FrameScheduler` on every pass of its loop, giving it
the playback clock's time and a way to take the next decoded frame; the
scheduler answers with the frame to show (the newest one whose time has come),
and, once that frame is presented, how many frames before it were never shown
(*dropped*, counted from the frames' indices, so frames the decoder skipped
count too) and whether it came more than a frame period after its time
(*late*).  It also says when the clip has ended and how long the loop may
sleep.  :class:`ControlLockstep` pairs each dream frame with the control frame
of the same index.  Frames are anything with ``index``, ``time`` (seconds in
the file) and ``loop`` (wraps before it), like :class:`.frames.Frame`; the
decoder's end is :data:`.frames.EOF`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

from ..errors import UserError
from .frames import EOF

EARLY_TOLERANCE_S = 1e-4   # a frame this close to its time counts as due (clock and timestamps round)


@dataclass(frozen=True)
class Shown:
    """What the scheduler says about a video frame that was just presented."""

    index: int
    frame_time: float          # on the playback timeline (loops included)
    dropped: int               # video frames never shown between the previous shown frame and this one
    late: bool                 # shown more than one frame period after its time
    offset_s: float            # playback clock minus the frame's time at presentation (0 when not realtime)


class FrameScheduler:
    """Frame choice for one playback.

    ``realtime``: frames are shown when the clock reaches their time (all but
    the newest due frame are dropped); otherwise every frame is shown once, in
    order (:meth:`take_next`).  ``duration``/``frame_count`` describe one pass
    through the file (a loop's length).
    """

    def __init__(self, fps: float, duration: float, frame_count: int, realtime: bool = True,
                 still: bool = False, loop: bool = False):
        self.fps = float(fps or 0.0)
        self.period = 1.0 / self.fps if self.fps else 0.0
        self.duration = float(duration or 0.0)
        self.frame_count = int(frame_count or 0)
        self.realtime = realtime or still
        self.still = still
        self.loop = loop
        self.pending = None          # taken from the decoder, not yet due (or EOF)
        self.current = None          # the frame on screen
        self._previous = None        # the last video frame presented (None after a seek)

    def frame_time(self, frame) -> float:
        """The frame's time on the playback timeline (a looping clip keeps counting up)."""
        return frame.loop * self.duration + frame.time

    # -- choosing --------------------------------------------------------------------------
    def prime(self, first):
        """The first frame (decoded before the clock starts): shown first whatever the clock says."""
        self.pending = first

    def take_due(self, t: float, next_frame: Callable[[], object]) -> Optional[object]:
        """Realtime: take every frame due at clock time ``t``; the newest is returned (shown), the others are
        passed over (counted as dropped when the newest is presented).  ``next_frame()`` returns a decoded
        frame, None when none is ready, or EOF.  None: no new frame to show."""
        new = None
        while True:
            if self.pending is None and not self.still:
                self.pending = next_frame()
            p = self.pending
            if p is None or p is EOF:
                return new
            if self.current is not None and not self.still and self.frame_time(p) > t + EARLY_TOLERANCE_S:
                return new
            self.current = new = p
            self.pending = EOF if self.still else None

    def take_next(self, next_frame: Callable[[], object]) -> Optional[object]:
        """Every-frame mode: the next frame in order (None at the end).  ``next_frame()`` blocks; None from it
        means the decoder stalled."""
        p = self.pending if self.pending is not None else next_frame()
        self.pending = None
        if p is None:
            raise UserError("decoding stalled; check the video file")
        if p is EOF:
            self.pending = EOF
            return None
        self.current = p
        if self.still:
            self.pending = EOF
        return p

    def seek(self):
        """The clock jumped: frames taken so far are stale and the next shown frame drops nothing."""
        self.pending = None
        self._previous = None

    # -- after presenting -------------------------------------------------------------------
    def presented(self, frame, t: float) -> Shown:
        """Account for video frame ``frame`` presented at clock time ``t``."""
        ft = self.frame_time(frame)
        dropped = 0 if self._previous is None or self.still else self._gap(self._previous, frame)
        self._previous = frame
        live = self.realtime and not self.still
        offset = t - ft if live else 0.0
        return Shown(frame.index, ft, dropped, bool(live and self.period and offset > self.period), offset)

    def _gap(self, before, after) -> int:
        """Frames between two shown frames (by index, so uneven frame times do not matter)."""
        if after.loop == before.loop or not self.frame_count:
            if after.loop != before.loop:   # frame count unknown: fall back on the times
                return max(0, round((self.frame_time(after) - self.frame_time(before)) * self.fps) - 1)
            return max(0, after.index - before.index - 1)
        wraps = after.loop - before.loop
        return max(0, (self.frame_count - 1 - before.index) + after.index + (wraps - 1) * self.frame_count)

    # -- ending and waiting -------------------------------------------------------------------
    def ended(self, t: float, new: bool) -> bool:
        """The clip is over: the decoder is at its end and the last frame has had its period on screen."""
        if self.still or self.loop or new or self.current is None or self.pending is not EOF:
            return False
        return not self.realtime or t >= self.frame_time(self.current) + self.period

    def wait_s(self, t: float) -> float:
        """How long the loop may sleep before the next frame is due (it still wakes for input)."""
        if self.pending is not None and self.pending is not EOF:
            return max(0.0, self.frame_time(self.pending) - t)
        return 0.02 if self.still else 0.002


@dataclass
class RedrawPolicy:
    """When to draw again without a new video frame.

    Input that changed the view and the first frame always redraw; continuous pose
    sources (headsets, scripted paths) and dose ramps over a still redraw at most
    every ``min_interval`` seconds (the display rate when the swap does not pace the loop).
    """

    min_interval: float
    continuous: bool = False
    last_draw: float = float("-inf")
    last_dose: Optional[float] = None

    def due(self, now: float, new: bool, changed: bool, still: bool, dose: float) -> bool:
        if new or changed or self.last_dose is None:
            return True
        if now - self.last_draw < self.min_interval:
            return False
        return self.continuous or (still and abs(dose - self.last_dose) > 1e-9)

    def drawn(self, now: float, dose: float):
        self.last_draw, self.last_dose = now, dose

    def wait_s(self, now: float, wait: float, animated: bool) -> float:
        """``wait`` shortened to the next redraw when something moves on its own (``animated``)."""
        if self.continuous or animated:
            wait = min(wait, self.min_interval - (now - self.last_draw))
        return max(0.0, wait)


class ControlLockstep:
    """The control frame with the dream frame's index: the control decoder is read in step with the dream.

    ``next_frame(timeout)`` returns the control's next frame, None on timeout, or EOF.
    """

    def __init__(self, next_frame: Callable[[float], object], name: str = "the control video",
                 timeout_s: float = 5.0):
        self.next_frame = next_frame
        self.name = name
        self.timeout_s = timeout_s
        self.pending = None
        self.last = None

    def seek(self):
        self.pending = None

    def frame_for(self, frame):
        """The control frame matching dream ``frame`` (the last one before it when the control has none)."""
        key = (frame.loop, frame.index)
        while True:
            c = self.pending
            if c is None:
                c = self.next_frame(self.timeout_s)
                if c is None:
                    raise UserError(f"{self.name} stalled; check the file")
            if c is EOF:
                self.pending = EOF
                return self.last
            self.pending = None
            if (c.loop, c.index) < key:
                self.last = c
                continue
            if (c.loop, c.index) == key:
                self.last = c
                return c
            self.pending = c   # control ahead (the dream skipped a frame): keep the last one
            return self.last if self.last is not None else c
