"""The temporal figure as a headset wearer sees it: 50° views straight up, straight down and at four horizon yaws.

The clip figures of :mod:`.figures` are means over the equirectangular
frame, where the caps are a few stretched rows; this module looks where a
viewer looks.  For each view and each pair of consecutive frames:

* **added error**: the dream's warping error along the *source's* flow
  (computed on the source's view, non-occluded pixels) minus the source's
  own — what the dream adds to frame-to-frame change there;
* **strength**: mean |dream − source| in the view, per frame (0–1 scale).

From these: the **pole/horizon added error** (the two caps' mean added
error over the four horizon views' mean; about 1 when the sky and the
ground are as steady as the horizon) and each cap's **strength dip** (its
lowest per-frame strength over its median; near 1 when the cap keeps its
pattern).  :data:`LIMITS` holds the targets.
"""
from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .. import sphere
from . import flow as flowmod
from .flow import FlowParams

FOV = 50.0
CAPS = (("up", 0.0, 90.0), ("down", 0.0, -90.0))
HORIZON = tuple((f"yaw{int(y)}", y, 0.0) for y in (0.0, 90.0, 180.0, 270.0))
VIEWS = CAPS + HORIZON
CAP_NAMES = tuple(name for name, _, _ in CAPS)
LIMITS = {
    "pole_horizon_added_error": ("<=", 1.10),
    "cap_strength_dip": (">=", 0.85),
}


def view_side(width: int, fov: float = FOV) -> int:
    """Side of a view whose centre has the frame's equator density (at least 48 pixels)."""
    return max(int(round(sphere.equator_density_side(width, fov))), 48)


@dataclass
class _Track:
    added: List[float] = field(default_factory=list)     # per frame pair
    strength: List[float] = field(default_factory=list)  # per frame


class TemporalFigure:
    """Feed one eye's (source, dream) frames in order with :meth:`add`; :meth:`result` gives the figure."""

    def __init__(self, width: int, height: int, flow: FlowParams = FlowParams()):
        self.side = view_side(width)
        self.maps = {name: flowmod.view_maps(width, height, self.side, FOV, yaw, pitch)
                     for name, yaw, pitch in VIEWS}
        self.flow = flow
        self.tracks = {name: _Track() for name, _, _ in VIEWS}
        self._prev: Optional[Dict[str, Tuple[np.ndarray, np.ndarray]]] = None

    def _render(self, image: np.ndarray) -> Dict[str, np.ndarray]:
        return {name: flowmod.render_view(image, m) for name, m in self.maps.items()}

    def add(self, source: np.ndarray, dream: np.ndarray) -> None:
        """The next frame: uint8 (H, W, 3) source and dream of the same size."""
        if source.shape != dream.shape:
            raise ValueError(f"source {source.shape} and dream {dream.shape} differ in size")
        src_views, dream_views = self._render(source), self._render(dream)
        for name, track in self.tracks.items():
            s, d = src_views[name], dream_views[name]
            track.strength.append(float(np.abs(d.astype(np.float32) - s.astype(np.float32)).mean() / 255.0))
            if self._prev is not None:
                ps, pd = self._prev[name]
                fwd, bwd = flowmod.flow_pair(ps, s, self.flow, wrap=False)
                valid = ~flowmod.occlusion_mask(fwd, bwd, wrap=False)
                track.added.append(flowmod.warping_error(pd, d, bwd, valid, wrap=False)
                                   - flowmod.warping_error(ps, s, bwd, valid, wrap=False))
        self._prev = {name: (src_views[name], dream_views[name]) for name in self.tracks}

    def result(self) -> Dict[str, Any]:
        return summarise([self])


def summarise(eyes: Sequence[TemporalFigure]) -> Dict[str, Any]:
    """The figure of one or more eyes: per view the mean added error and the strength series, and the targets'
    figures (added errors averaged over eyes, the lowest strength dip of any eye's cap)."""
    views: Dict[str, Any] = {}
    dips = {}
    for name, _, _ in VIEWS:
        added = [a for e in eyes for a in e.tracks[name].added]
        series = [e.tracks[name].strength for e in eyes]
        dip_per_eye = [min(s) / max(float(np.median(s)), 1e-12) for s in series if s]
        views[name] = {"added_error": float(np.mean(added)) if added else None,
                       "strength": float(np.mean([x for s in series for x in s])) if any(series) else None,
                       "strength_dip": min(dip_per_eye) if dip_per_eye else None,
                       "strength_per_frame": series[0] if len(series) == 1 else series}
        if name in CAP_NAMES:
            dips[name] = views[name]["strength_dip"]
    out: Dict[str, Any] = {"fov": FOV, "view_side": eyes[0].side if eyes else None,
                           "pairs": len(eyes[0].tracks["up"].added) if eyes else 0, "views": views}
    horizon = [views[n]["added_error"] for n, _, _ in HORIZON if views[n]["added_error"] is not None]
    caps = {n: views[n]["added_error"] for n, _, _ in CAPS if views[n]["added_error"] is not None}
    if horizon and len(caps) == len(CAPS):
        h = float(np.mean(horizon))
        out["horizon_added_error"] = h
        out["cap_added_error"] = float(np.mean(list(caps.values())))
        out["pole_horizon_added_error"] = out["cap_added_error"] / h if abs(h) > 1e-12 else None
        for n, v in caps.items():
            out[f"{n}_horizon_added_error"] = v / h if abs(h) > 1e-12 else None
    if dips and all(v is not None for v in dips.values()):
        out["cap_strength_dip"] = float(min(dips.values()))
    return out


def _median_strength(view: Dict[str, Any]) -> Optional[float]:
    series = view.get("strength_per_frame") or []
    flat = [x for s in series for x in s] if series and isinstance(series[0], list) else list(series)
    return float(np.median(flat)) if flat else None


def against_independent(coherent: Dict[str, Any], independent: Dict[str, Any]) -> Dict[str, Dict[str, float]]:
    """Per view, the carried dream's strength against the engine's own on the same frames.

    ``kept``: the coherent dream's median strength over the independent frames' (``--independent``, each
    frame dreamed alone): about 1 where the carry keeps what the engine dreams there, below 1 where it
    drops the dream (occlusions, motion), above where the frame's single gain makes up for losses elsewhere.
    ``content_dip``: the independent frames' own strength dip, how far the content alone swings the
    engine's strength in that view; a carry can smooth the swing but not remove it without dreaming
    against the content.
    """
    out: Dict[str, Dict[str, float]] = {}
    for name, view in coherent["views"].items():
        own = independent["views"].get(name)
        a, b = _median_strength(view), _median_strength(own) if own else None
        if a is None or not b:
            continue
        out[name] = {"kept": a / b, "content_dip": own["strength_dip"]}
    return out


def format_against_independent(table: Dict[str, Dict[str, float]]) -> str:
    """One line per view: what the carry keeps of the engine's strength, and the content's own dip."""
    lines = [f"{'view':8s} {'kept':>6s} {'content dip':>12s}   (coherent median strength / independent; "
             "independent frames' min/median)"]
    for name, row in table.items():
        lines.append(f"{name:8s} {row['kept']:6.2f} {row['content_dip']:12.3f}")
    return "\n".join(lines)


def verdicts(figure: Dict[str, Any]) -> Dict[str, bool]:
    """Whether each figure with a target (:data:`LIMITS`) meets it."""
    from ..quality import verdicts as check

    return check(figure, LIMITS)


def format_report(figure: Dict[str, Any]) -> str:
    """A few lines: the targets and each view's added error and strength."""
    ok = verdicts(figure)
    lines = [f"views {figure['fov']:.0f}° ({figure['view_side']} px), {figure['pairs']} frame pairs"]
    for key, (op, limit) in LIMITS.items():
        v = figure.get(key)
        text = f"{v:8.3f}" if v is not None else "     n/a"
        verdict = ("ok" if ok[key] else "OUT OF RANGE") if key in ok else ""
        lines.append(f"{key:28s} {text}   (target {op} {limit})  {verdict}")
    lines.append(f"{'view':8s} {'added error':>12s} {'strength':>9s} {'min/median':>11s}")
    for name, v in figure["views"].items():
        ae = f"{v['added_error']:12.5f}" if v["added_error"] is not None else f"{'n/a':>12s}"
        st = f"{v['strength']:9.4f}" if v["strength"] is not None else f"{'n/a':>9s}"
        dip = f"{v['strength_dip']:11.3f}" if v["strength_dip"] is not None else f"{'n/a':>11s}"
        lines.append(f"{name:8s} {ae} {st} {dip}")
    return "\n".join(lines)


def read_sidecar(dream_path) -> Dict[str, Any]:
    """The video options a dream was made with, from its ``.json`` sidecar (empty when there is none)."""
    p = Path(str(dream_path) + ".json")
    try:
        record = json.loads(p.read_text())
        return record.get("video") or record.get("options") or {}
    except (OSError, ValueError, AttributeError):
        return {}


@contextmanager
def _dream_frames(dream_path):
    """(width, height, iterator of uint8 frames) of a dream video, or of a ``--png-dir`` folder of its frames
    (``frame_NNNNNN.png``: the dream as dreamed, before any video codec)."""
    from ..io.images import read_image
    from ..io.reader import VideoReader

    folder = Path(dream_path)
    if folder.is_dir():
        paths = sorted(folder.glob("frame_*.png"))
        if not paths:
            from ..errors import UserError
            raise UserError(f"{folder} holds no frame_NNNNNN.png; give a dream video or a --png-dir folder")
        h, w = read_image(str(paths[0])).shape[:2]
        yield w, h, (read_image(str(p)) for p in paths)
        return
    with VideoReader(str(dream_path)) as dreams:
        w, h = dreams.info.display_size
        yield w, h, (f.image for f in dreams.frames())


def video_figure(source_path, dream_path, start: Optional[int] = None,
                 flow: FlowParams = FlowParams()) -> Dict[str, Any]:
    """The figure of a dreamed video (or its ``--png-dir`` folder) against its source.

    The source is prepared as the run prepared it: eyes split, resized wrap-aware to the dream's size, from
    frame ``start`` (default: the first frame of the sidecar's ``frames``, else 0).
    """
    from ..errors import UserError
    from ..io.probe import Stereo, split_eyes
    from ..io.reader import VideoReader
    from .layout import plan_layout
    from .options import VideoOptions

    if start is None:
        start = int((read_sidecar(dream_path).get("frames") or [0])[0] or 0)
    with _dream_frames(dream_path) as (w, h, dreams), VideoReader(source_path) as sources:
        eyes = 2 if w == h else 1
        if w != 2 * (h // eyes):
            raise UserError(f"{dream_path} is {w}x{h}, not a 2:1 panorama (or a top-bottom pair of them); "
                            "give a dream made by `hallucinator dream`")
        layout = plan_layout(sources.info, VideoOptions(size=(w, h // eyes), to_2to1=True,
                                                        stereo=Stereo.TOP_BOTTOM if eyes == 2 else Stereo.MONO))
        figures = [TemporalFigure(w, h // eyes, flow) for _ in range(eyes)]
        count = 0
        for src, dream in zip(sources.frames(start), dreams):
            for fig, s, d in zip(figures, layout.split(src.image), split_eyes(dream, eyes)):
                fig.add(s, d)
            count += 1
    if count < 2:
        raise UserError(f"{dream_path} and {source_path} share {count} frame(s) from frame {start}; "
                        "the temporal figure needs two or more")
    return dict(summarise(figures), frames=count, start=start)
