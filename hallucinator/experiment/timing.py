"""Timing tasks as small state machines on the session clock.

*Production*: the participant is told a duration N, starts the interval with
a key and presses again when they think N seconds have passed.  The
produced interval is the time between the two presses.

*Reproduction*: the participant starts a trial with a key, watches a marker
for N seconds (the target), then presses once to start and once to stop an
interval of the same length.

A trial never reads a clock itself: :meth:`key` and :meth:`tick` receive the
time, so the same code runs in a window (times of key callbacks on the
session clock), under a simulated participant and in tests.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

START_KEYS = ("space", "enter")


@dataclass
class TimingTrial:
    kind: str                 # "production" | "reproduction"
    target: float             # seconds
    number: int = 1
    phase: str = "ready"      # ready -> timing (production) | ready -> target -> respond -> timing (reproduction)
    t_ready: float = 0.0
    t_start: Optional[float] = None
    t_stop: Optional[float] = None
    t_target_on: Optional[float] = None
    t_target_off: Optional[float] = None

    def start(self, now: float) -> None:
        self.phase, self.t_ready = "ready", now

    @property
    def done(self) -> bool:
        return self.phase == "done"

    @property
    def interval(self) -> Optional[float]:
        if self.t_start is None or self.t_stop is None:
            return None
        return self.t_stop - self.t_start

    def deadline(self) -> Optional[float]:
        """When the current phase ends by itself (the reproduction target), else None."""
        if self.phase == "target" and self.t_target_on is not None:
            return self.t_target_on + self.target
        return None

    def key(self, now: float, key: str) -> bool:
        """A key press at ``now``; returns True when it was used."""
        if key not in START_KEYS:
            return False
        if self.phase == "ready":
            if self.kind == "production":
                self.t_start, self.phase = now, "timing"
            else:
                self.t_target_on, self.phase = now, "target"
            return True
        if self.phase == "respond":
            self.t_start, self.phase = now, "timing"
            return True
        if self.phase == "timing":
            self.t_stop, self.phase = now, "done"
            return True
        return False

    def tick(self, now: float) -> None:
        d = self.deadline()
        if d is not None and now >= d:
            self.t_target_off, self.phase = d, "respond"

    def screen(self) -> Tuple[str, str]:
        """(big text, small hint) for the participant; never names a condition."""
        n = f"{self.target:g} second{'s' if self.target != 1 else ''}"
        if self.kind == "production":
            if self.phase == "ready":
                return (f"{n}", "Press SPACE to start. Press SPACE again when you think "
                                f"{n} have passed. Do not count.")
            return ("+", "Press SPACE when the time is up.")
        if self.phase == "ready":
            return ("Watch", "Press SPACE to see the interval to remember.")
        if self.phase == "target":
            return ("\u25CF", "")
        if self.phase == "respond":
            return ("Your turn", "Press SPACE to start, and SPACE again when the same time has passed.")
        return ("+", "Press SPACE when the same time has passed.")
