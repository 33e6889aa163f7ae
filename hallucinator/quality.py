"""Measured quality of a dreamed panorama: seam, poles, strength.

All figures are computed on the dream residual ``R = dream - source`` (gray,
in [0, 1] units), so the source's own structure does not count:

* **seam ratio**: mean |R[:, 0] - R[:, W-1]| over the mean difference of
  neighbouring columns elsewhere.  About 1 when the ±180° column is as
  continuous as any other; a flat dream with a random roll gives more.
  One column pair's jump varies with content (about ±7 % on real photos),
  so the source's own figure is reported beside it.
* In 90° pinhole views (sized to the panorama's equator resolution) straight
  up, straight down and at four yaws on the horizon:

  - **coherence**: the structure tensor's ``(l1 - l2) / (l1 + l2)``, averaged
    over the view: 0 for isotropic texture, 1 for parallel streaks.  The
    pole/horizon ratio is about 1 when patterns look the same everywhere.
  - **tangential bias**: ``cos 2(theta - tangent)`` averaged with the
    anisotropic energy as weight, where theta is the dominant gradient
    direction and tangent the direction around the view centre.  Streaks
    that converge on the centre (a pinched pole) have gradients along the
    tangent: positive bias.  Reported as the pole's excess over the horizon's.
  - **strength**: mean |R| in the view.
"""
from __future__ import annotations

from typing import Dict, List, Tuple

import cv2
import numpy as np
import torch

from . import sphere

HORIZON_YAWS = (0.0, 90.0, 180.0, 270.0)
POLES = (("up", 90.0), ("down", -90.0))


GRAY_WEIGHTS = (0.299, 0.587, 0.114)   # RGB -> gray (ITU-R BT.601 luma), for every figure on gray


def _gray(img: np.ndarray) -> np.ndarray:
    """Gray (H, W) float64 in [0, 1] of an RGB or gray image; the dtype sets the scale (integers: 0..max)."""
    a = img.astype(np.float64)
    if np.issubdtype(img.dtype, np.integer):
        a = a / np.iinfo(img.dtype).max
    return a @ np.array(GRAY_WEIGHTS) if a.ndim == 3 else a


def residual(source: np.ndarray, dream: np.ndarray) -> np.ndarray:
    """Gray residual (H, W), float64 in [-1, 1]."""
    if source.shape != dream.shape:
        raise ValueError(f"source {source.shape} and dream {dream.shape} differ in size")
    return _gray(dream) - _gray(source)


def seam_ratio(res: np.ndarray) -> float:
    across = np.abs(res[:, 0] - res[:, -1]).mean()
    neighbours = np.abs(np.diff(res, axis=1)).mean()
    return float(across / max(neighbours, 1e-12))


def structure_stats(view: np.ndarray, sigma: float = 2.0) -> Dict[str, float]:
    """Coherence, tangential bias (about the view centre) and strength of a residual view (h, w)."""
    gx = cv2.Sobel(view, cv2.CV_64F, 1, 0, ksize=3) / 8.0
    gy = cv2.Sobel(view, cv2.CV_64F, 0, 1, ksize=3) / 8.0
    jxx = cv2.GaussianBlur(gx * gx, (0, 0), sigma)
    jyy = cv2.GaussianBlur(gy * gy, (0, 0), sigma)
    jxy = cv2.GaussianBlur(gx * gy, (0, 0), sigma)
    trace = jxx + jyy
    aniso = np.sqrt((jxx - jyy) ** 2 + 4 * jxy ** 2)
    h, w = view.shape
    m = int(round(4 * sigma))  # keep away from the blur's border
    inner = (slice(m, h - m), slice(m, w - m))
    valid = trace[inner] > 1e-12
    coherence = float((aniso[inner][valid] / trace[inner][valid]).mean()) if valid.any() else 0.0
    theta = 0.5 * np.arctan2(2 * jxy, jxx - jyy)          # dominant gradient direction (image x right, y down)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    rho = np.arctan2(yy - (h - 1) / 2, xx - (w - 1) / 2)  # radial direction from the centre
    tangent = rho + np.pi / 2
    radius = np.hypot(yy - (h - 1) / 2, xx - (w - 1) / 2)
    keep = np.zeros_like(view, dtype=bool)
    keep[inner] = True
    keep &= radius > 0.05 * min(h, w)
    wgt = aniso[keep]
    bias = float((np.cos(2 * (theta[keep] - tangent[keep])) * wgt).sum() / max(wgt.sum(), 1e-12))
    return {"coherence": coherence, "tangential_bias": bias, "strength": float(np.abs(view[inner]).mean())}


def view_size(width: int) -> int:
    """Side of a 90° view whose centre has the panorama's equator resolution (W / pi)."""
    return max(int(round(sphere.equator_density_side(width, 90.0))), 32)


def views_of(res: np.ndarray, size: int) -> Dict[str, np.ndarray]:
    t = torch.from_numpy(res).float()[None, None]
    out = {}
    for name, pitch in POLES:
        out[name] = sphere.perspective_view(t, (size, size), 90.0, 0.0, pitch)[0, 0].double().numpy()
    for yaw in HORIZON_YAWS:
        out[f"yaw{int(yaw)}"] = sphere.perspective_view(t, (size, size), 90.0, yaw, 0.0)[0, 0].double().numpy()
    return out


def inspect(source: np.ndarray, dream: np.ndarray) -> Dict[str, float]:
    """All figures for a dreamed panorama (uint8 or float HWC images of the same size)."""
    res = residual(source, dream)
    size = view_size(res.shape[1])
    stats = {k: structure_stats(v) for k, v in views_of(res, size).items()}
    pole = [stats[n] for n, _ in POLES]
    horizon = [stats[f"yaw{int(y)}"] for y in HORIZON_YAWS]

    def mean(items: List[Dict[str, float]], key: str) -> float:
        return float(np.mean([s[key] for s in items]))

    out = {
        "seam_ratio": seam_ratio(res),
        "source_seam_ratio": seam_ratio(_gray(source)),
        "coherence_pole": mean(pole, "coherence"),
        "coherence_horizon": mean(horizon, "coherence"),
        "tangential_bias_pole": mean(pole, "tangential_bias"),
        "tangential_bias_horizon": mean(horizon, "tangential_bias"),
        "strength_pole": mean(pole, "strength"),
        "strength_horizon": mean(horizon, "strength"),
        "strength_mean": float(np.abs(res).mean()),
        "view_size": size,
    }
    out["pole_horizon_coherence_ratio"] = out["coherence_pole"] / max(out["coherence_horizon"], 1e-12)
    out["tangential_bias_excess"] = out["tangential_bias_pole"] - out["tangential_bias_horizon"]
    out["pole_horizon_strength_ratio"] = out["strength_pole"] / max(out["strength_horizon"], 1e-12)
    for name, s in stats.items():
        for k, v in s.items():
            out[f"view_{name}_{k}"] = v
    return out


# acceptance limits, from the project's issue on sphere-correct dreaming
LIMITS = {
    "seam_ratio": ("<=", 1.10),
    "pole_horizon_coherence_ratio": ("<=", 1.12),
    "tangential_bias_excess": ("<=", 0.15),
    "pole_horizon_strength_ratio": (">=", 0.5),
}


def verdicts(figures: Dict[str, float], limits: Dict[str, Tuple[str, float]] = LIMITS) -> Dict[str, bool]:
    """Whether each figure in ``figures`` that has a limit in ``limits`` (and a value) meets it; ``limits`` is
    these stills' :data:`LIMITS` or another family's (:data:`hallucinator.video.view_figures.LIMITS`)."""
    out = {}
    for key, (op, limit) in limits.items():
        v = figures.get(key)
        if v is not None:
            out[key] = v <= limit if op == "<=" else v >= limit
    return out


def format_report(figures: Dict[str, float]) -> str:
    ok = verdicts(figures)
    lines = []
    for key, (op, limit) in LIMITS.items():
        lines.append(f"{key:32s} {figures[key]:8.3f}   (target {op} {limit})  {'ok' if ok[key] else 'OUT OF RANGE'}")
    lines.append(f"{'source seam ratio (for context)':32s} {figures['source_seam_ratio']:8.3f}")
    lines.append(f"{'coherence pole / horizon':32s} {figures['coherence_pole']:8.3f} / {figures['coherence_horizon']:.3f}")
    lines.append(f"{'tangential bias pole / horizon':32s} {figures['tangential_bias_pole']:8.3f} / "
                 f"{figures['tangential_bias_horizon']:.3f}")
    lines.append(f"{'strength pole / horizon':32s} {figures['strength_pole']:8.4f} / {figures['strength_horizon']:.4f}")
    return "\n".join(lines)
