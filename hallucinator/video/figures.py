"""What a video run measures: per-frame figures, the clip's figures, seam/pole figures, and where time went.

* :class:`FrameFigures` of one working frame (strength, brightness, warping
  error along the source's flow) are made by :func:`frame_figures`.
* :func:`clip_figures` sums them up per clip; :func:`compare` sets a coherent
  run against an independent one (the targets of docs/video.md).
* :func:`sphere_figures` runs the still-image seam and pole figures
  (:mod:`hallucinator.quality`) on a few frames.
* :class:`Timer` adds up seconds per stage (decode, flow, pyramid, dream, encode).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from . import flow as flowmod

SPHERE_KEYS = ("seam_ratio", "pole_horizon_coherence_ratio", "tangential_bias_excess",
               "pole_horizon_strength_ratio")


class Timer:
    """Seconds per stage, added up over a run."""

    def __init__(self):
        self.t: Dict[str, float] = {}

    def add(self, key: str, seconds: float) -> None:
        self.t[key] = self.t.get(key, 0.0) + seconds


@dataclass
class FrameFigures:
    index: int
    strength: float
    brightness_dream: float
    brightness_source: float
    warp_error_dream: Optional[float] = None
    warp_error_source: Optional[float] = None
    occluded: Optional[float] = None
    cold: bool = False
    gain: float = 1.0


def residual(dream_u8: np.ndarray, src_u8: np.ndarray) -> np.ndarray:
    """``dream - source`` as float32 in [-1, 1]."""
    return (dream_u8.astype(np.float32) - src_u8.astype(np.float32)) / 255.0


def frame_figures(index, dream_u8, src, prev_src, prev_dream, bwd, occ, cold=False, gain=1.0) -> FrameFigures:
    """Figures of one dreamed frame; with the previous frame, the warping errors along ``bwd`` where not ``occ``."""
    res = residual(dream_u8, src)
    fig = FrameFigures(index=index, strength=float(np.abs(res).mean()),
                       brightness_dream=float(dream_u8.mean() / 255.0), brightness_source=float(src.mean() / 255.0),
                       occluded=float(occ.mean()) if occ is not None else None, cold=cold, gain=gain)
    if prev_src is not None and prev_dream is not None:
        valid = ~occ
        fig.warp_error_dream = flowmod.warping_error(prev_dream, dream_u8, bwd, valid)
        fig.warp_error_source = flowmod.warping_error(prev_src, src, bwd, valid)
    return fig


def clip_figures(figures: List[List[FrameFigures]]) -> Dict[str, Any]:
    """Per-clip figures from per-frame ones (one list per eye; averaged over eyes).

    * ``warp_error``: mean over consecutive pairs of the dream's warping error
      along the source's flow minus the source's own (non-occluded pixels).
    * ``strength``: mean |dream - source| (0-1 scale).
    * ``brightness_drift``: change of the dream's brightness offset
      (dream - source) from the first tenth of the clip to the last tenth,
      relative to the source's mean brightness; ``brightness_drift_max`` the
      largest change from the first frame.
    """
    frames = [f for eye in figures for f in eye]
    if not frames:
        return {}
    pairs = [f for f in frames if f.warp_error_dream is not None]
    out: Dict[str, Any] = {"frames": len(figures[0])}
    out["warp_error"] = float(np.mean([f.warp_error_dream - f.warp_error_source for f in pairs])) if pairs else None
    out["warp_error_dream_raw"] = float(np.mean([f.warp_error_dream for f in pairs])) if pairs else None
    out["warp_error_source_raw"] = float(np.mean([f.warp_error_source for f in pairs])) if pairs else None
    out["strength"] = float(np.mean([f.strength for f in frames]))
    per_eye_offsets = [np.array([f.brightness_dream - f.brightness_source for f in e]) for e in figures]
    mean_src = float(np.mean([f.brightness_source for f in frames])) or 1e-6
    drifts, maxes = [], []
    for off in per_eye_offsets:
        k = max(1, len(off) // 10)
        drifts.append(abs(float(off[-k:].mean() - off[:k].mean())) / mean_src)
        maxes.append(float(np.abs(off - off[0]).max()) / mean_src)
    out["brightness_drift"] = float(np.max(drifts))
    out["brightness_drift_max"] = float(np.max(maxes))
    out["brightness_offset_mean"] = float(np.mean(np.concatenate(per_eye_offsets)))
    out["strength_first"] = float(np.mean([e[0].strength for e in figures]))
    out["strength_last"] = float(np.mean([e[-1].strength for e in figures]))
    out["gain_mean"] = float(np.mean([f.gain for f in frames]))
    out["cold_frames"] = sum(int(f.cold) for f in frames)
    return out


def compare(coherent: Dict[str, Any], independent: Dict[str, Any]) -> Dict[str, Any]:
    """Ratios of a coherent run's figures to an independent run's, and whether they meet the targets."""
    out = {}
    if coherent.get("warp_error") is not None and independent.get("warp_error"):
        out["warp_error_ratio"] = coherent["warp_error"] / independent["warp_error"]
    if independent.get("strength"):
        out["strength_ratio"] = coherent["strength"] / independent["strength"]
    out["brightness_drift"] = coherent.get("brightness_drift")
    out["brightness_drift_independent"] = independent.get("brightness_drift")
    out["ok"] = bool(out.get("warp_error_ratio", 1) <= 0.5 and 0.8 <= out.get("strength_ratio", 0) <= 1.25
                     and (coherent.get("brightness_drift") or 0) <= 0.02)
    return out


def pick_frames(indices: Sequence[int], count: int) -> List[int]:
    """``count`` frames spread over ``indices``: the first, the last and evenly between."""
    if not indices or count <= 0:
        return []
    return sorted(set(indices[int(round(k * (len(indices) - 1) / max(1, count - 1)))] for k in range(count)))


def sphere_figures(pairs, warnings: List[str]) -> Dict[str, Any]:
    """Seam and pole figures of ``(frame, eye, source, dream)`` pairs, per frame and their means.

    A failure is a warning, never a reason to lose the output.
    """
    from .. import quality

    rows = []
    for idx, eye, src, dream in pairs:
        try:
            f = quality.inspect(src, dream)
        except Exception as exc:
            warnings.append(f"seam/pole figures failed on frame {idx}: {exc}")
            continue
        rows.append({k: f[k] for k in SPHERE_KEYS if k in f} | {"frame": idx, "eye": eye})
    if not rows:
        return {}
    out: Dict[str, Any] = {"sphere_frames": rows}
    for k in SPHERE_KEYS:
        vals = [r[k] for r in rows if k in r]
        if vals:
            out[f"{k}_mean"] = float(np.mean(vals))
    return out
