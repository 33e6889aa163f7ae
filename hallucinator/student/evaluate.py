"""The student's figures on held-out panoramas: how like the teacher, how strong, and correct on the sphere.

On each held-out panorama at the training size (the teacher dreamed it with two seeds):

* **correlation ratio**: Pearson correlation of the student's gray residual with the teacher's (both blurred,
  Gaussian sigma 2 px, longitude wrapping), averaged over the two teacher seeds, over the correlation of the
  two teacher runs with each other (what the teacher itself repeats);
* **strength ratio**: mean |gray residual| of the student over the teacher's (mean of the seeds);
* the sphere figures of the student's dream (:func:`hallucinator.quality.inspect`): seam, pole/horizon
  coherence, tangential bias excess.

:data:`LIMITS` are the targets, checked by :func:`hallucinator.quality.verdicts` (one loop for every family).
"""
from __future__ import annotations

from typing import Callable, Dict, List, Sequence

import cv2
import numpy as np

from .. import quality
from .runtime import add_residual

LIMITS = {
    "correlation_ratio": (">=", 0.6),
    "strength_ratio": (">=", 0.6),
    "seam_ratio": quality.LIMITS["seam_ratio"],
    "pole_horizon_coherence_ratio": quality.LIMITS["pole_horizon_coherence_ratio"],
    "tangential_bias_excess": quality.LIMITS["tangential_bias_excess"],
}
BLUR_SIGMA = 2.0
GRAY = np.array(quality.GRAY_WEIGHTS, dtype=np.float64)


def blurred_gray(res: np.ndarray, sigma: float = BLUR_SIGMA) -> np.ndarray:
    """Gray of a residual (h, w, 3) blurred with a Gaussian, longitude wrapping."""
    g = np.asarray(res, dtype=np.float64) @ GRAY
    r = int(np.ceil(3 * sigma))
    wide = np.concatenate([g[:, -r:], g, g[:, :r]], axis=1)
    return cv2.GaussianBlur(wide, (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)[:, r:-r]


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel() - a.mean(), b.ravel() - b.mean()
    return float((a * b).sum() / max(np.sqrt((a * a).sum() * (b * b).sum()), 1e-18))


def panorama_figures(picture: np.ndarray, teacher: Sequence[np.ndarray], student: np.ndarray) -> Dict[str, float]:
    """Figures of one held-out panorama: ``picture`` uint8, ``teacher`` residuals of two seeds, ``student``
    residual (all (h, w, 3), 1.0 = full scale)."""
    bt = [blurred_gray(t) for t in teacher]
    bs = blurred_gray(student)
    tt = correlation(bt[0], bt[1]) if len(bt) > 1 else float("nan")
    st = float(np.mean([correlation(bs, b) for b in bt]))
    strength_t = float(np.mean([np.abs(np.asarray(t, np.float64) @ GRAY).mean() for t in teacher]))
    strength_s = float(np.abs(np.asarray(student, np.float64) @ GRAY).mean())
    sphere_figs = quality.inspect(picture, add_residual(picture, student))
    return {
        "teacher_teacher_correlation": tt,
        "student_teacher_correlation": st,
        "correlation_ratio": st / tt if tt == tt and tt > 0 else float("nan"),
        "strength_teacher": strength_t,
        "strength_student": strength_s,
        "strength_ratio": strength_s / max(strength_t, 1e-12),
        **{k: sphere_figs[k] for k in ("seam_ratio", "source_seam_ratio", "pole_horizon_coherence_ratio",
                                       "tangential_bias_excess", "pole_horizon_strength_ratio")},
    }


def evaluate(named: Dict[str, Dict], residual_fn: Callable[[np.ndarray], np.ndarray]) -> Dict:
    """Figures for each held-out panorama ``named[name] = {"picture": uint8, "teacher": [res, res]}`` with the
    student's ``residual_fn``; their mean; and the verdicts against :data:`LIMITS`."""
    per: Dict[str, Dict[str, float]] = {}
    for name, d in named.items():
        per[name] = panorama_figures(d["picture"], d["teacher"], residual_fn(d["picture"]))
    keys = list(next(iter(per.values())).keys()) if per else []
    mean = {k: float(np.mean([p[k] for p in per.values()])) for k in keys}
    return {"panoramas": per, "mean": mean, "limits": {k: list(v) for k, v in LIMITS.items()},
            "verdicts": quality.verdicts(mean, LIMITS)}


def frame_correlations(pictures: Sequence[np.ndarray], teacher: Sequence[np.ndarray],
                       residual_fn: Callable[[np.ndarray], np.ndarray]) -> List[float]:
    """Student-teacher correlation (blurred gray residuals) of held-out video frames (one teacher seed each)."""
    return [correlation(blurred_gray(residual_fn(p)), blurred_gray(t)) for p, t in zip(pictures, teacher)]


def report_lines(result: Dict) -> List[str]:
    m, ok = result["mean"], result["verdicts"]
    lines = []
    for key, (op, limit) in LIMITS.items():
        lines.append(f"  {key:30s} {m[key]:7.3f}  (target {op} {limit})  {'ok' if ok.get(key) else 'MISSED'}")
    lines.append(f"  {'teacher vs teacher correlation':30s} {m['teacher_teacher_correlation']:7.3f}")
    lines.append(f"  {'student vs teacher correlation':30s} {m['student_teacher_correlation']:7.3f}")
    return lines
