"""The dose dial: how much of the dream is shown (0 = control, 1 = dream, >1 exaggerates).

A dose is a constant or a timeline of ramps, written as keyframes
``TIME:DOSE`` joined by ``->`` (or ``→``), e.g. ``0s:0 -> 30s:1 -> 90s:1 -> 120s:0``.
Times take ``s``, ``ms``, ``min`` suffixes (plain numbers are seconds) or
``M:SS``.  Between keyframes the dose moves linearly; before the first and after
the last it holds.  A timeline file holds the same text; newlines and commas also
separate keyframes and ``#`` starts a comment.

:class:`DoseDial` is the dose during playback: the timeline, unless the viewer's
keys took the dial (by :data:`DOSE_STEP` per press) until they give it back.
"""
from __future__ import annotations

import re
from bisect import bisect_right
from pathlib import Path
from typing import List, Optional, Tuple, Union

from ..errors import UserError

DOSE_STEP = 0.1         # one press of the dose keys ([ and ]) moves the dose by this much
MAX_DOSE = 2.0          # the keys stop here (above 1 exaggerates the dream)

_TIME = re.compile(r"^\s*(?:(\d+):(\d+(?:\.\d*)?)|(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|sec|min|m)?)\s*$")


def parse_time(text: str) -> float:
    """'30s', '1.5', '250ms', '2min', '1:30' -> seconds."""
    m = _TIME.match(text)
    if not m:
        raise UserError(f"cannot read time {text.strip()!r} in the dose timeline; write e.g. 30s, 1.5s, 250ms, 2min or 1:30")
    if m.group(1) is not None:
        return int(m.group(1)) * 60 + float(m.group(2))
    value, unit = float(m.group(3)), (m.group(4) or "s")
    return value / 1000 if unit == "ms" else value * 60 if unit in ("min", "m") else value


class DoseTimeline:
    """Piecewise-linear dose over playback time."""

    def __init__(self, keys: List[Tuple[float, float]]):
        if not keys:
            raise UserError("the dose timeline is empty; write keyframes like '0s:0 -> 30s:1'")
        for (t0, _), (t1, _) in zip(keys, keys[1:]):
            if t1 < t0:
                raise UserError(f"dose timeline times go backwards ({t0:g}s then {t1:g}s); list keyframes in time order")
        for t, d in keys:
            if d < 0:
                raise UserError(f"dose {d:g} at {t:g}s is negative; doses are 0 (control) to 1 (dream), above 1 exaggerates")
        self.keys = [(float(t), float(d)) for t, d in keys]
        self._times = [t for t, _ in self.keys]

    @classmethod
    def constant(cls, dose: float) -> "DoseTimeline":
        return cls([(0.0, float(dose))])

    @classmethod
    def parse(cls, text: str) -> "DoseTimeline":
        lines = [line.split("#", 1)[0] for line in text.splitlines()]
        body = " , ".join(lines).replace("→", "->")
        parts = [p for p in re.split(r"->|,|;", body) if p.strip()]
        keys = []
        for part in parts:
            if ":" not in part:
                raise UserError(f"dose keyframe {part.strip()!r} has no ':'; write TIME:DOSE, e.g. 30s:1")
            time_text, _, dose_text = part.strip().rpartition(":")
            try:
                dose = float(dose_text)
            except ValueError:
                raise UserError(f"dose {dose_text.strip()!r} in keyframe {part.strip()!r} is not a number") from None
            keys.append((parse_time(time_text), dose))
        return cls(keys)

    @classmethod
    def from_spec(cls, spec: Union[str, float, int, "DoseTimeline", None]) -> "DoseTimeline":
        """A number, a timeline string, a path to a timeline file, or a timeline."""
        if spec is None:
            return cls.constant(1.0)
        if isinstance(spec, DoseTimeline):
            return spec
        if isinstance(spec, (int, float)):
            return cls.constant(float(spec))
        text = str(spec)
        try:
            return cls.constant(float(text))
        except ValueError:
            pass
        path = Path(text)
        if len(text) < 4096 and path.is_file():
            return cls.parse(path.read_text())
        if ":" not in text:
            raise UserError(f"dose {text!r} is neither a number, a timeline like '0s:0 -> 30s:1', nor a file")
        return cls.parse(text)

    @property
    def is_constant(self) -> bool:
        return len({d for _, d in self.keys}) == 1

    @property
    def duration(self) -> float:
        return self.keys[-1][0]

    def __call__(self, t: float) -> float:
        return self.value(t)

    def value(self, t: float) -> float:
        i = bisect_right(self._times, t)
        if i == 0:
            return self.keys[0][1]
        if i >= len(self.keys):
            return self.keys[-1][1]
        (t0, d0), (t1, d1) = self.keys[i - 1], self.keys[i]
        if t1 <= t0:
            return d1
        return d0 + (d1 - d0) * (t - t0) / (t1 - t0)

    def __str__(self) -> str:
        return " -> ".join(f"{t:g}s:{d:g}" for t, d in self.keys)


class DoseDial:
    """The dose shown at playback time ``t``: the timeline's, or a value set by hand.

    Each change worth logging (the start, a keyframe reached, a key press, the hand
    given back to the timeline) comes back as ``(t, value, why)``.
    """

    def __init__(self, timeline: DoseTimeline):
        self.timeline = timeline
        self.manual: Optional[float] = None
        self._next_key = 0
        self._begin: Optional[float] = None

    def value(self, t: float) -> float:
        return self.manual if self.manual is not None else self.timeline.value(t)

    @property
    def animated(self) -> bool:
        """The dose moves on its own (a ramp that the keys have not overridden)."""
        return self.manual is None and not self.timeline.is_constant

    def start(self, t: float) -> Tuple[float, float, str]:
        self._begin = t
        return (t, self.value(t), "start")

    def keyframes_reached(self, t: float) -> List[Tuple[float, float, str]]:
        """Timeline keyframes passed since the last call (after the start, while the timeline rules)."""
        keys, out = self.timeline.keys, []
        if self.manual is not None or self._begin is None:
            return out
        while self._next_key < len(keys) and keys[self._next_key][0] <= t:
            kt, kd = keys[self._next_key]
            if kt > self._begin:
                out.append((kt, kd, "timeline"))
            self._next_key += 1
        return out

    def nudge(self, t: float, steps: int) -> Tuple[float, float, str]:
        """Take the dial by hand and move it ``steps`` presses (negative: down)."""
        self.manual = round(max(0.0, min(MAX_DOSE, self.value(t) + steps * DOSE_STEP)), 3)
        return (t, self.manual, "key")

    def release(self, t: float) -> Tuple[float, float, str]:
        """Give the dial back to the timeline."""
        self.manual = None
        return (t, self.value(t), "timeline")
