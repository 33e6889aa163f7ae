"""Is there a jump where chunks meet?  The warping error the dream adds, across boundaries and inside chunks.

For each output frame ``i`` after the first, the *added* warping error is the dream's warping error
from frame ``i-1`` along the source's flow minus the source's own (non-occluded pixels; averaged over
eyes) — the figure of docs/video.md, here on the assembled output.  A boundary's zone is its fade:
the steps into frames ``warm_start .. start`` of the chunk (just ``start`` without a fade).  Each
boundary's figure is the largest added error in its zone over the median added error of the steps
inside chunks (outside every zone, not into a cold frame).  At most 1.25: no visible jump.
"""
from __future__ import annotations

from typing import Any, Dict, List, Sequence

import numpy as np

from ..video.figures import FrameFigures
from .chunks import Chunk

TARGET = 1.25


def added_errors(figures: Sequence[Sequence[FrameFigures]]) -> Dict[int, float]:
    """Added warping error per frame index (eyes averaged), for frames that have a previous frame."""
    per: Dict[int, List[float]] = {}
    for eye in figures:
        for f in eye:
            if f.warp_error_dream is not None and f.warp_error_source is not None:
                per.setdefault(f.index, []).append(f.warp_error_dream - f.warp_error_source)
    return {i: float(np.mean(v)) for i, v in per.items()}


def boundary_figures(figures: Sequence[Sequence[FrameFigures]], chunks: Sequence[Chunk], fade: bool,
                     cold: Sequence[int] = ()) -> Dict[str, Any]:
    """Per boundary (not at a cut): its largest added error over the median inside chunks; the worst."""
    added = added_errors(figures)
    zones = {c.index: range(c.warm_start if fade else c.start, c.start + 1)
             for c in chunks if c.index > 0 and not c.cut}
    in_zone = {i for z in zones.values() for i in z}
    inside = [v for i, v in added.items() if i not in in_zone and i not in set(cold)]
    median = float(np.median(inside)) if inside else None
    rows = []
    for k, zone in zones.items():
        vals = [added[i] for i in zone if i in added]
        if not vals or not median:
            continue
        worst = max(vals)
        rows.append({"chunk": k, "frames": [zone.start, zone.stop - 1], "added_warp_error_max": worst,
                     "ratio": worst / median})
    out: Dict[str, Any] = {"inside_median": median, "boundaries": rows, "target": TARGET}
    if rows:
        out["ratio_max"] = max(r["ratio"] for r in rows)
        out["ok"] = out["ratio_max"] <= TARGET
    return out
