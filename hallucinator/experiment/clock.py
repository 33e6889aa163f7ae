"""The session clock: one time axis for the video, the logs, the timing tasks and LSL.

``now()`` is seconds since the session started, measured on LSL's clock
(``pylsl.local_clock()``, a monotonic clock; on Linux the same
CLOCK_MONOTONIC that ``time.monotonic()`` reads).  ``lsl(t)`` turns a
session time back into an LSL timestamp, so a marker pushed with
``lsl(onset)`` lines up with the row written with ``onset``.

A resumed session keeps the time axis: the origin is recovered from the
stored origin (same boot) or from the wall clock (after a reboot).
:class:`VirtualClock` is for simulated sessions that do not wait: time only
moves when the session sleeps.
"""
from __future__ import annotations

import time

try:  # pylsl ships liblsl; fall back to the same OS clock if it cannot load
    from pylsl import local_clock as _local_clock
except Exception:  # pragma: no cover
    _local_clock = time.monotonic


def local_clock() -> float:
    return _local_clock()


class SessionClock:
    virtual = False

    def __init__(self, t0_lsl: float | None = None, t0_wall: float | None = None):
        now_l, now_w = local_clock(), time.time()
        if t0_lsl is None or t0_wall is None:
            self.t0, self.t0_wall = now_l, now_w
        else:
            from_wall = now_l - (now_w - t0_wall)
            # same boot: the stored LSL origin is exact; otherwise rebuild it from the wall clock
            self.t0 = t0_lsl if abs(from_wall - t0_lsl) < 2.0 else from_wall
            self.t0_wall = t0_wall

    def now(self) -> float:
        return local_clock() - self.t0

    def lsl(self, t: float) -> float:
        return self.t0 + t

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class VirtualClock(SessionClock):
    """Simulated time: ``sleep`` moves it at once; nothing waits."""

    virtual = True

    def __init__(self, start: float = 0.0):
        self.t0 = local_clock()
        self.t0_wall = time.time()
        self._t = float(start)

    def now(self) -> float:
        return self._t

    def sleep(self, seconds: float) -> None:
        self._t += max(0.0, seconds)
