"""A simulated participant: answers, response times, timing and head motion from a seed.

Used to pilot a protocol (``--simulate SEED``) and in tests.  Everything is
drawn from ``numpy.random.default_rng([seed, participant number])`` so a
simulated session is reproducible.  The effect of the dream is set in the
protocol's ``[simulate]`` table (defaults below)::

    [simulate]
    realtime = false                         # true: play in real time, in the window
    effects = { "Complex imagery" = 30 }     # dream - control, points of 0..100 at dose 1
    head_speed = { control = 20, dream = 28 }  # mean angular head speed, deg/s
    timing_ratio = { control = 1.0, dream = 1.0 }  # produced / target interval

Effects are matched to dimension names case-insensitively, by whole name or
by a default key contained in the name.
"""
from __future__ import annotations

import math
from typing import Dict, Optional, Tuple

import numpy as np

from .questionnaire import Item

# Dream - control shift in 0..100 points at dose 1.  Qualitatively like the
# 2017 Experiment 1 (visual and perceptual dimensions up, anxiety about flat);
# a pilot assumption, not data.
DEFAULT_EFFECTS = {
    "elementary imagery": 30.0, "visual patterns": 30.0, "complex imagery": 28.0, "changed meaning": 22.0,
    "audio-visual": 10.0, "unity": 10.0, "disembodiment": 8.0, "impaired control": 8.0, "blissful": 6.0,
    "spiritual": 4.0, "insight": 4.0, "anxiety": 2.0, "presence": -10.0, "discomfort": 6.0,
}


def quat_from_yaw_pitch(yaw_deg, pitch_deg):
    """Unit quaternion(s) (w, x, y, z) of ``R = Ry(-yaw) @ Rx(pitch)`` (the sphere.py convention, no roll)."""
    a = -np.radians(yaw_deg) / 2
    b = np.radians(pitch_deg) / 2
    ca, sa, cb, sb = np.cos(a), np.sin(a), np.cos(b), np.sin(b)
    # (ca, 0, sa, 0) * (cb, sb, 0, 0)
    return np.stack([ca * cb, ca * sb, sa * cb, -sa * sb], axis=-1)


class SimulatedParticipant:
    def __init__(self, seed: int, participant_number: int, settings: Optional[dict] = None):
        self.seed = int(seed)
        self.rng = np.random.default_rng([self.seed, int(participant_number)])
        s = settings or {}
        self.effects = {k.lower(): float(v) for k, v in DEFAULT_EFFECTS.items()}
        self.effects.update({k.lower(): float(v) for k, v in (s.get("effects") or {}).items()})
        self.head_speed = {"control": 18.0, "dream": 24.0}
        self.head_speed.update({k: float(v) for k, v in (s.get("head_speed") or {}).items()})
        self.timing_ratio = {k: float(v) for k, v in (s.get("timing_ratio") or {}).items()}
        self.noise = float(s.get("noise", 12.0))
        # people differ in how strongly the dream affects them
        self.gain = float(self.rng.lognormal(0.0, float(s.get("effect_spread", 0.5))))
        self._base: Dict[str, float] = {}
        self.mover = float(self.rng.lognormal(0.0, 0.25))        # some people look around more than others
        self._yaw, self._pitch, self._vyaw, self._vpitch = 0.0, 0.0, 0.0, 0.0

    # -- questionnaires ---------------------------------------------------
    def effect(self, dimension: str) -> float:
        d = dimension.lower()
        if d in self.effects:
            return self.effects[d]
        for key, val in self.effects.items():
            if key in d:
                return val
        return 0.0

    def answer(self, item: Item, dose: float) -> Tuple[float, float]:
        """(answer on the item's own scale, response time in s)."""
        if item.dimension not in self._base:
            self._base[item.dimension] = 8.0 + abs(self.rng.normal(0, 8.0))
        pct = self._base[item.dimension] + self.gain * self.effect(item.dimension) * dose + \
            self.rng.normal(0, self.noise)
        if item.reverse:
            pct = 100.0 - pct
        pct = float(np.clip(pct, 0.0, 100.0))
        rt = float(np.clip(self.rng.lognormal(math.log(2.5), 0.35), 0.6, 12.0))
        if item.scale == "vas":
            return round(pct, 1), rt
        value = 1 + round(pct / 100.0 * (item.points - 1))
        return float(value), rt

    def read_time(self, text: str) -> float:
        """Seconds to read an instruction screen."""
        return float(np.clip(1.0 + len(text) / 25.0 + self.rng.normal(0, 0.5), 0.5, 20.0))

    # -- timing -------------------------------------------------------------
    def interval(self, target: float, condition: Optional[str]) -> float:
        ratio = self.timing_ratio.get(condition or "", 1.0)
        return float(target * ratio * math.exp(self.rng.normal(0.0, 0.12)))

    def reaction(self) -> float:
        return float(np.clip(self.rng.lognormal(math.log(0.8), 0.3), 0.25, 4.0))

    # -- head motion ---------------------------------------------------------
    def speed_for(self, condition: Optional[str]) -> float:
        return self.head_speed.get(condition or "", 15.0)

    def head_motion(self, duration: float, rate: float, condition: Optional[str]):
        """(times, quaternions (n, 4)) of a smooth random look-around at the condition's mean speed."""
        n = max(2, int(duration * rate) + 1)
        dt = 1.0 / rate
        speed = self.speed_for(condition) * self.gain ** 0.3 if condition == "dream" else self.speed_for(condition)
        speed *= self.mover
        tau = 0.8                                    # s, persistence of head velocity
        sigma = speed * 1.25                         # stationary sd of each velocity component
        yaw = np.empty(n)
        pitch = np.empty(n)
        a = math.exp(-dt / tau)
        for i in range(n):
            self._vyaw = a * self._vyaw + math.sqrt(1 - a * a) * self.rng.normal(0, sigma)
            self._vpitch = a * self._vpitch + math.sqrt(1 - a * a) * self.rng.normal(0, sigma * 0.45)
            self._vpitch -= 0.5 * self._pitch * dt   # pulled back towards the horizon
            self._yaw = (self._yaw + self._vyaw * dt + 180.0) % 360.0 - 180.0
            self._pitch = min(70.0, max(-70.0, self._pitch + self._vpitch * dt))
            yaw[i], pitch[i] = self._yaw, self._pitch
        times = np.arange(n) * dt
        return times, quat_from_yaw_pitch(yaw, pitch)

    def pose_function(self, duration: float, rate: float, condition: Optional[str]):
        """``f(t) -> quaternion`` over ``[0, duration]`` for driving a viewer in real time."""
        times, quats = self.head_motion(duration + 1.0, rate, condition)

        def at(t: float):
            i = int(np.clip(round(t * rate), 0, len(times) - 1))
            return tuple(float(v) for v in quats[i])
        return at


def angular_speeds(times, quats):
    """Angular speed (deg/s) between consecutive orientation samples."""
    times = np.asarray(times, dtype=np.float64)
    q = np.asarray(quats, dtype=np.float64)
    if len(times) < 2:
        return np.zeros(0)
    dots = np.abs(np.sum(q[1:] * q[:-1], axis=1)) / (np.linalg.norm(q[1:], axis=1) * np.linalg.norm(q[:-1], axis=1))
    angle = 2.0 * np.degrees(np.arccos(np.clip(dots, -1.0, 1.0)))
    dt = np.diff(times)
    ok = dt > 1e-6
    return angle[ok] / dt[ok]
