"""The carry near the poles, in the undistorted polar views the engine dreams the caps in.

On the equirectangular frame a small motion near a pole is stretched over
whole rows, so the flow there is poor, the forward–backward check fails and
the carried residual is dropped or smeared: the cap loses its pattern after
a jolt and the sky shimmers where the scene is still.  The engine dreams the
caps in two pinhole views straight up and down (``pole_fov`` wide, blended
into the band over the latitudes ``pole_blend``); this module carries them
the same way:

* each cap's previous and current source frames are rendered into its view
  (:class:`Cap`, the equator's pixel density at its centre), the flow both
  ways, the occlusion check and the motion mask are computed there;
* the carried residual is then warped in one resampling of the previous
  equirectangular residual: an equirectangular pixel goes to its view
  position ``q``, follows the view's backward flow to ``q + b(q)``, and that
  direction is looked up in the previous residual;
* the result replaces the equirectangular carry over the engine's blend
  (the same smoothstep over ``pole_blend``), and so does the occlusion map,
  so a cut or fast motion still resets the chain.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Callable, Optional, Tuple

import cv2
import numpy as np

from .. import sphere
from . import flow as flowmod
from .options import BlendParams


@dataclass(frozen=True)
class Cap:
    """One polar view and the equirectangular rows it carries."""

    pitch: float             # 90 up, -90 down
    fov: float
    size: int                # side of the square view
    rows: slice              # equirectangular rows with a weight above 0
    weight: np.ndarray       # (rows, W) float32: the blend weight where the view covers the pixel, else 0
    view_map: Tuple[np.ndarray, np.ndarray]   # view pixel -> column (+VIEW_BORDER), row of the equirect frame
    at_view: Tuple[np.ndarray, np.ndarray]    # the rows' pixels -> view pixel coordinates
    width: int
    height: int

    def render(self, image: np.ndarray, interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
        """The cap's view (size, size[, C]) of an equirectangular image, wrapping in longitude."""
        return flowmod.render_view(image, self.view_map, interpolation)

    def at_rows(self, view_image: np.ndarray) -> np.ndarray:
        """A view image (masks, flows) sampled at the cap rows' pixels, linearly: (rows, W[, C])."""
        return cv2.remap(np.ascontiguousarray(view_image, dtype=np.float32), *self.at_view, cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE)

    def equirect_of(self, x: np.ndarray, y: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """View pixel coordinates (continuous) -> equirectangular (column, row), the column wrapped."""
        f = (self.size / 2) / math.tan(math.radians(self.fov) / 2)
        cam = np.stack([(x + 0.5 - self.size / 2) / f, -(y + 0.5 - self.size / 2) / f, -np.ones_like(x)], -1)
        d = cam @ sphere.rotation_matrix(0.0, self.pitch, 0.0).T
        return sphere.pixel_from_lonlat(*sphere.lonlat_from_dir(d), self.width, self.height)


@lru_cache(maxsize=8)
def caps(height: int, width: int, fov: float, pole_blend: Tuple[float, float]) -> Tuple[Cap, ...]:
    """The caps of a ``width`` x ``height`` frame that have rows in the blend: up, then down."""
    weights = sphere.pole_blend_weights(height, pole_blend).astype(np.float32)
    size = max(int(round(sphere.equator_density_side(width, fov))), 16)
    half = height // 2
    out = []
    for pitch, rows in ((90.0, np.nonzero(weights[:half] > 0)[0]), (-90.0, np.nonzero(weights[half:] > 0)[0] + half)):
        if not len(rows):
            continue
        r = slice(int(rows[0]), int(rows[-1]) + 1)
        view_map = flowmod.view_maps(width, height, size, fov, 0.0, pitch)
        uu, vv = np.meshgrid(np.arange(width), np.arange(r.start, r.stop))
        x, y, front = sphere.project_to_view(sphere.dir_from_lonlat(*sphere.lonlat_from_pixel(uu, vv, width, height)),
                                             size, size, fov, 0.0, pitch, 0.0)
        x, y = np.nan_to_num(x, nan=-9.0), np.nan_to_num(y, nan=-9.0)
        inside = front & (x >= -0.5) & (x <= size - 0.5) & (y >= -0.5) & (y <= size - 0.5)
        weight = (weights[r][:, None] * inside).astype(np.float32)
        out.append(Cap(pitch, fov, size, r, weight, view_map, (x.astype(np.float32), y.astype(np.float32)),
                       width, height))
    return tuple(out)


def uses_caps(cfg) -> bool:
    """Whether the engine dreams the caps in polar views (a 360° frame with ``poles = "faces"``)."""
    return cfg is not None and not getattr(cfg, "flat", False) and getattr(cfg, "poles", "none") == "faces"


def caps_of(cfg, height: int, width: int) -> Tuple[Cap, ...]:
    """The caps the engine dreams in views for ``cfg`` (none for flat frames or ``poles = "none"``)."""
    if not uses_caps(cfg):
        return ()
    return caps(height, width, float(cfg.pole_fov), tuple(float(x) for x in cfg.pole_blend))


@dataclass
class CapMotion:
    """One cap's motion between two frames, computed in its view."""

    cap: Cap
    backward: np.ndarray     # (size, size, 2) cur -> prev
    occluded: np.ndarray     # float32 (rows, W): the view's occlusion at the cap rows' pixels
    moving: np.ndarray       # float32 (rows, W): the view's motion mask at the cap rows' pixels


def cap_flows(cap: Cap, prev_src: np.ndarray, cur_src: np.ndarray,
              params: flowmod.FlowParams) -> Tuple[np.ndarray, np.ndarray]:
    """(forward prev->cur, backward cur->prev) flows in the cap's view (no wrap: the view has sides)."""
    a, b = cap.render(flowmod.to_gray(prev_src)), cap.render(flowmod.to_gray(cur_src))
    return flowmod.flow_pair(a, b, replace(params, pad=0.0), wrap=False)


def cap_motion(cap: Cap, fwd: np.ndarray, bwd: np.ndarray, blend: BlendParams,
               grays: Optional[Tuple[np.ndarray, np.ndarray]] = None) -> CapMotion:
    """Occlusion check and motion mask in the cap's view, from its flows; with ``grays`` (the previous and
    current equirectangular frames, uint8 gray) the check is confirmed by the view's grey levels, as the
    equirectangular one is (``blend.occlusion_levels``)."""
    occ = flowmod.occlusion_mask(fwd, bwd, wrap=False)
    if grays is not None:
        occ = flowmod.confirmed_occlusion(occ, cap.render(grays[0]), cap.render(grays[1]), bwd,
                                          blend.occlusion_levels, wrap=False)
    moving = flowmod.motion_mask(bwd, blend.motion_threshold, normalise=blend.motion_normalised, spherical=False,
                                 wrap=False)
    return CapMotion(cap, bwd, cap.at_rows(occ.astype(np.float32)), cap.at_rows(moving))


@dataclass
class SphereMotion:
    """The motion between two frames: the equirectangular occlusion with the caps' blended in, and the caps'."""

    occluded: np.ndarray     # float32 (H, W) in [0, 1]
    caps: Tuple[CapMotion, ...]
    equirect: np.ndarray     # bool (H, W): the equirectangular carry's occlusion (before the caps' blend)

    @property
    def fraction(self) -> float:
        """The occluded fraction of the frame's pixels (a cut when above ``reset_fraction``)."""
        return float(self.occluded.mean())


FlowSource = Callable[[Cap], Tuple[np.ndarray, np.ndarray]]


def sphere_motion(cfg, blend: BlendParams, prev_src: np.ndarray, cur_src: np.ndarray, equirect_occ: np.ndarray,
                  backward: np.ndarray, flows: Optional[FlowSource] = None) -> SphereMotion:
    """The caps' motion in their views, and the occlusion map with theirs blended in over the engine's blend.

    ``equirect_occ`` is the forward–backward check of the equirectangular ``backward`` flow; it and each
    cap's are confirmed by grey levels (:func:`flow.confirmed_occlusion`, ``blend.occlusion_levels``).
    ``flows(cap)`` gives a cap's (forward, backward) flows (the video cache's); by default they are computed.
    """
    equirect = np.asarray(equirect_occ, bool)
    grays = None
    if blend.occlusion_levels > 0:      # the frames in grey only when the check is confirmed by them
        grays = flowmod.to_gray(prev_src), flowmod.to_gray(cur_src)
        equirect = flowmod.confirmed_occlusion(equirect, *grays, backward, blend.occlusion_levels)
    occluded = equirect.astype(np.float32)
    if flows is None:
        def flows(cap: Cap):
            return cap_flows(cap, prev_src, cur_src, blend.flow)
    motions = tuple(cap_motion(c, *flows(c), blend, grays) for c in caps_of(cfg, *occluded.shape[:2]))
    for m in motions:
        wt = m.cap.weight
        occluded[m.cap.rows] = (1.0 - wt) * occluded[m.cap.rows] + wt * m.occluded
    return SphereMotion(occluded, motions, equirect)


def cap_carry(motion: CapMotion, prev_res: np.ndarray, blend: BlendParams) -> np.ndarray:
    """The residual carried into a cap's rows (rows, W, C): warped along the view's flow in one resampling."""
    cap = motion.cap
    b = cap.at_rows(motion.backward)
    u, v = cap.equirect_of(cap.at_view[0] + b[..., 0], cap.at_view[1] + b[..., 1])
    map_x = (np.mod(u + 0.5, cap.width) - 0.5 + flowmod.VIEW_BORDER).astype(np.float32)
    map_y = np.clip(v, 0, cap.height - 1).astype(np.float32)
    padded = np.ascontiguousarray(flowmod.pad_wrap(prev_res, flowmod.VIEW_BORDER))
    warped = cv2.remap(padded, map_x, map_y, flowmod.INTERPOLATION[blend.interpolation],
                       borderMode=cv2.BORDER_REPLICATE)
    warped = warped.reshape(map_x.shape + prev_res.shape[2:])
    if blend.occlusion:
        warped = warped * (motion.occluded < 0.5).reshape(map_x.shape + (1,) * (prev_res.ndim - 2))
    m = motion.moving.reshape(map_x.shape + (1,) * (prev_res.ndim - 2))
    return (blend.moving * m * warped + blend.static * (1.0 - m) * prev_res[cap.rows]).astype(np.float32)


def sphere_carry(motion: SphereMotion, prev_res: np.ndarray, equirect_carry: np.ndarray,
                 blend: BlendParams) -> np.ndarray:
    """The equirectangular carry with each cap's carried in over the engine's blend (a new array)."""
    carried = np.array(equirect_carry, np.float32, copy=True)
    for m in motion.caps:
        wt = m.cap.weight.reshape(m.cap.weight.shape + (1,) * (carried.ndim - 2))
        carried[m.cap.rows] = (1.0 - wt) * carried[m.cap.rows] + wt * cap_carry(m, prev_res, blend)
    return carried
