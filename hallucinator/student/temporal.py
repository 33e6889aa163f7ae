"""Temporal stability at run time: the previous frame's residual carried along the flow and blended in.

The student dreams each frame on its own, so where the picture changes a little its patterns can change
more (flicker).  :class:`TemporalBlend` keeps ``keep`` of the previous residual, warped along the
source's wrap-aware flow (``video.flow``), where the forward-backward check trusts the match, and takes the
rest from the student: ``R_t = keep * warp(R_{t-1}) + (1 - keep) * student(F_t)``; where the match is not
trusted (occlusions, cuts) ``R_t = student(F_t)``.  Everything happens at the dreaming size; the residual is
then enlarged wrap-aware onto the full frame.  One flow pair per frame at the dreaming size.
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from .runtime import Student, dream_at


class TemporalBlend:
    """One stream's state (one eye): ``dream(student, frame)`` frame after frame."""

    def __init__(self, keep: float = 0.5):
        if not 0.0 <= keep < 1.0:
            raise ValueError(f"keep must be in [0, 1), not {keep}")
        self.keep = float(keep)
        self._prev: Optional[Tuple[np.ndarray, np.ndarray]] = None   # (source, residual) at the dreaming size

    def reset(self) -> None:
        self._prev = None

    def residual(self, student: Student, small: np.ndarray) -> np.ndarray:
        """The blended residual of ``small`` (a frame at the dreaming size)."""
        from ..video import flow as flowmod

        res = student.residual(small)
        if self._prev is not None and self._prev[0].shape == small.shape and self.keep > 0:
            prev_src, prev_res = self._prev
            fwd, bwd = flowmod.flow_pair(prev_src, small)
            trusted = ~flowmod.occlusion_mask(fwd, bwd)
            warped = flowmod.warp(prev_res, bwd)
            res = np.where(trusted[..., None], self.keep * warped + (1.0 - self.keep) * res, res).astype(np.float32)
        self._prev = (small, res)
        return res

    def dream(self, student: Student, frame: np.ndarray, size: Optional[Tuple[int, int]] = None,
              strength: float = 1.0) -> np.ndarray:
        """As :meth:`Student.dream`, with the previous frame's residual blended in."""
        return dream_at(lambda small: self.residual(student, small), frame, size, strength)
