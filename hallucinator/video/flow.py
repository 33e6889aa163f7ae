"""Wrap-aware optical flow on equirectangular frames, warping, motion and occlusion masks.

Conventions
-----------
* Images are numpy arrays (H, W) or (H, W, C), uint8 or float32, equirect
  (column 0 and column W-1 are neighbours across ±180°).
* A flow ``f`` from frame ``a`` to frame ``b`` is float32 (H, W, 2) in
  pixels, (dx, dy): the content at pixel ``p`` of ``a`` is found at
  ``p + f(p)`` in ``b`` (OpenCV's convention).
* :func:`warp` samples an image at ``p + f(p)``: warping frame ``t-1`` with
  the *backward* flow ``t -> t-1`` brings it into the geometry of frame ``t``.
* Longitude wraps everywhere: the flow is computed on frames padded with
  the columns from across the seam, and sampling wraps column indices.
  ``wrap=False`` does the same on a pinhole view (the polar views of
  :mod:`.polar_carry`, the views of :mod:`.view_figures`): no wrap, and a
  match that leaves the view at any side is occluded.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Optional, Tuple

import cv2
import numpy as np

from ..sphere import (dir_from_lonlat, latitude_of_rows, lonlat_from_dir, lonlat_from_pixel, perspective_rays,
                      pixel_from_lonlat, rotation_matrix)

FLOW_METHODS = ("dis", "farneback")


@dataclass(frozen=True)
class FlowParams:
    """What decides the flow (part of the flow cache key)."""

    method: str = field(default="dis", metadata={
        "help": "optical flow method (default dis)", "flag": "--flow", "dest": "flow", "choices": FLOW_METHODS})
    dis_preset: str = "medium"     # ultrafast | fast | medium
    pad: float = 0.125             # fraction of the width padded on each side across the seam
    # Farneback, as in the 2017 Hallucination Machine preprocessor
    pyr_scale: float = 0.5
    levels: int = 3
    winsize: int = 15
    iterations: int = 3
    poly_n: int = 5
    poly_sigma: float = 1.2

    def to_dict(self) -> dict:
        return asdict(self)


def to_gray(image: np.ndarray) -> np.ndarray:
    """uint8 RGB (H, W, 3) or gray (H, W) -> uint8 gray (H, W)."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        image = np.clip(np.asarray(image, np.float32) * (255.0 if image.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
    if image.ndim == 3:
        return cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)
    return image


def pad_wrap(image: np.ndarray, pad: int) -> np.ndarray:
    """Pad columns on both sides with the columns from across the ±180° seam."""
    if pad <= 0:
        return image
    return np.concatenate([image[:, -pad:], image, image[:, :pad]], axis=1)


INTERPOLATION = {"cubic": cv2.INTER_CUBIC, "linear": cv2.INTER_LINEAR}   # BlendParams.interpolation -> OpenCV
VIEW_BORDER = 2   # columns padded across ±180° before a view or a warp samples an equirectangular frame


def view_maps(width: int, height: int, side: int, fov: float, yaw: float,
              pitch: float) -> Tuple[np.ndarray, np.ndarray]:
    """``cv2.remap`` maps of a ``side`` x ``side`` pinhole view of a ``width`` x ``height`` equirectangular
    frame padded by :data:`VIEW_BORDER` columns (:func:`render_view`)."""
    return _maps_looking_along(perspective_rays(side, side, fov, yaw, pitch, 0.0), width, height)


def tilted_maps(width: int, height: int, degrees: float) -> Tuple[np.ndarray, np.ndarray]:
    """``cv2.remap`` maps (for :func:`render_view`) of a ``width`` x ``height`` equirectangular frame with the
    sphere turned by ``degrees`` about the forward axis: content seen along ``e`` is then seen along ``R e``
    (``R``: a view's roll of ``degrees``); the horizon tilts."""
    u, v = np.meshgrid(np.arange(width), np.arange(height))
    d = dir_from_lonlat(*lonlat_from_pixel(u, v, width, height)) @ rotation_matrix(0.0, 0.0, degrees)
    return _maps_looking_along(d, width, height)


def _maps_looking_along(directions: np.ndarray, width: int, height: int) -> Tuple[np.ndarray, np.ndarray]:
    """``cv2.remap`` maps that sample a ``width`` x ``height`` equirectangular frame, padded by
    :data:`VIEW_BORDER` columns as :func:`render_view` pads it, along each of ``directions`` (..., 3)."""
    u, v = pixel_from_lonlat(*lonlat_from_dir(directions), width, height)
    return (u + VIEW_BORDER).astype(np.float32), v.astype(np.float32)


def render_view(image: np.ndarray, maps: Tuple[np.ndarray, np.ndarray],
                interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    """The view of ``maps`` (:func:`view_maps`, :func:`tilted_maps`) of an equirectangular image, wrapping in
    longitude."""
    padded = np.ascontiguousarray(pad_wrap(image, VIEW_BORDER))
    return cv2.remap(padded, *maps, interpolation, borderMode=cv2.BORDER_REPLICATE)


def _dis(preset: str):
    presets = {"ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
               "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}
    return cv2.DISOpticalFlow_create(presets[preset])


def compute_flow(a: np.ndarray, b: np.ndarray, params: FlowParams = FlowParams(), wrap: bool = True) -> np.ndarray:
    """Dense flow from ``a`` to ``b`` (H, W, 2) float32, continuous across ±180° (``wrap=False``: a pinhole view)."""
    ga, gb = to_gray(a), to_gray(b)
    if ga.shape != gb.shape:
        raise ValueError(f"frames differ in size: {ga.shape} vs {gb.shape}")
    h, w = ga.shape
    pad = int(round(params.pad * w)) if params.pad and wrap else 0
    pad = min(pad, w)
    pa, pb = pad_wrap(ga, pad), pad_wrap(gb, pad)
    if params.method == "dis":
        flow = _dis(params.dis_preset).calc(pa, pb, None)
    elif params.method == "farneback":
        flow = cv2.calcOpticalFlowFarneback(pa, pb, None, params.pyr_scale, params.levels, params.winsize,
                                            params.iterations, params.poly_n, params.poly_sigma, 0)
    else:
        raise ValueError(f"unknown flow method {params.method!r}; choose one of {', '.join(FLOW_METHODS)}")
    return np.ascontiguousarray(flow[:, pad:pad + w], dtype=np.float32)


def flow_pair(a: np.ndarray, b: np.ndarray, params: FlowParams = FlowParams(),
              wrap: bool = True) -> Tuple[np.ndarray, np.ndarray]:
    """(forward a->b, backward b->a) flows."""
    return compute_flow(a, b, params, wrap), compute_flow(b, a, params, wrap)


def _maps(flow: np.ndarray, border: int, wrap: bool = True) -> Tuple[np.ndarray, np.ndarray]:
    h, w = flow.shape[:2]
    xs = np.arange(w, dtype=np.float32)[None, :] + flow[..., 0]
    ys = np.arange(h, dtype=np.float32)[:, None] + flow[..., 1]
    xs = np.mod(xs, np.float32(w)) if wrap else np.clip(xs, 0, w - 1)
    map_x = xs.astype(np.float32) + np.float32(border if wrap else 0)
    map_y = np.clip(ys, 0, h - 1).astype(np.float32)
    return map_x, map_y


def warp(image: np.ndarray, flow: np.ndarray, interpolation: int = cv2.INTER_LINEAR, wrap: bool = True) -> np.ndarray:
    """Sample ``image`` at ``p + flow(p)``, wrapping in longitude (``wrap=False``: clamping, for pinhole views)
    and clamping at the poles.

    ``image`` (H, W) or (H, W, C), any C; returns the same dtype and shape.
    """
    image = np.asarray(image)
    h, w = flow.shape[:2]
    if image.shape[:2] != (h, w):
        raise ValueError(f"image {image.shape[:2]} and flow {(h, w)} differ in size")
    border = 2
    map_x, map_y = _maps(flow, border, wrap)
    padded = pad_wrap(image, border) if wrap else image
    if image.ndim == 3 and image.shape[2] > 4:
        return np.stack([warp(image[..., c], flow, interpolation, wrap) for c in range(image.shape[2])], axis=-1)
    out = cv2.remap(np.ascontiguousarray(padded), map_x, map_y, interpolation, borderMode=cv2.BORDER_REPLICATE)
    if image.ndim == 3 and out.ndim == 2:
        out = out[..., None]
    return out


def occlusion_mask(forward: np.ndarray, backward: np.ndarray, alpha: float = 0.01, beta: float = 0.5,
                   wrap: bool = True) -> np.ndarray:
    """Pixels of frame ``b`` with no trustworthy match in frame ``a`` (bool (H, W)).

    ``forward`` is a->b, ``backward`` is b->a.  Forward–backward check
    (Sundaram, Brox, Keutzer 2010): following the backward flow then the
    forward flow must return close to the start,
    ``|b + f(p + b)|² <= alpha (|b|² + |f(p + b)|²) + beta``.  Pixels whose
    match leaves the frame over a pole are occluded too; with ``wrap=False`` (a
    pinhole view) so are those whose match leaves it at the sides.
    """
    h, w = backward.shape[:2]
    f_at = warp(forward, backward, wrap=wrap)
    bx, by, fx, fy = backward[..., 0], backward[..., 1], f_at[..., 0], f_at[..., 1]
    sx, sy = bx + fx, by + fy
    err = sx * sx + sy * sy        # written out: numpy's sum over a trailing axis of 2 is several times slower
    bound = alpha * ((bx * bx + by * by) + (fx * fx + fy * fy)) + beta
    ys = np.arange(h, dtype=np.float32)[:, None] + backward[..., 1]
    outside = (ys < -0.5) | (ys > h - 0.5)
    if not wrap:
        xs = np.arange(w, dtype=np.float32)[None, :] + backward[..., 0]
        outside |= (xs < -0.5) | (xs > w - 0.5)
    return (err > bound) | outside


def confirmed_occlusion(occluded: np.ndarray, prev_gray: np.ndarray, cur_gray: np.ndarray, backward: np.ndarray,
                        levels: float, wrap: bool = True) -> np.ndarray:
    """The pixels of ``occluded`` (a failed forward–backward check) that the previous frame, warped along
    ``backward``, also misses by more than ``levels`` grey levels (frames uint8 gray); ``occluded`` itself
    when ``levels`` is 0.

    DIS flows at small motions disagree forward and backward by more than the check's half pixel over
    much of a frame that the warp explains to within 2-3 grey levels (measured on the tunnel clip's sky:
    15-40 % of the view failed the check, 2-6 % after this confirmation); a real occlusion brings content
    the warp cannot explain.
    """
    if levels <= 0:
        return occluded
    warped = warp(np.asarray(prev_gray, np.float32), backward, wrap=wrap)
    return occluded & (np.abs(warped - np.asarray(cur_gray, np.float32)) > levels)


def flow_magnitude(flow: np.ndarray, spherical: bool = True) -> np.ndarray:
    """Length of the flow in pixels at the equator's scale (horizontal motion shrinks by cos(latitude))."""
    fx, fy = flow[..., 0], flow[..., 1]
    if spherical:
        fx = fx * np.cos(latitude_of_rows(flow.shape[0]))[:, None].astype(np.float32)
    return np.sqrt(fx * fx + fy * fy)


def motion_mask(flow: np.ndarray, threshold: float = 1.0, normalise: bool = False, spherical: bool = True,
                soften: float = 1.5, wrap: bool = True) -> np.ndarray:
    """Where things move: float32 (H, W) in [0, 1].

    ``normalise=False``: moving where the (spherical) flow magnitude exceeds
    ``threshold`` pixels.  ``normalise=True``: the 2017 rule — magnitude
    scaled per frame to 0–255 and compared with ``threshold`` (6 there).
    ``soften`` is the sigma (pixels) of a Gaussian that feathers the edge
    (across ±180° unless ``wrap=False``, for pinhole views).
    """
    mag = flow_magnitude(flow, spherical)
    if normalise:
        top = float(mag.max())
        mag = mag / top * 255.0 if top > 0 else mag
    mask = (mag > threshold).astype(np.float32)
    if soften > 0:
        k = int(2 * round(3 * soften) + 1)
        pad = k if wrap else 0
        mask = pad_wrap(mask, pad)
        mask = cv2.GaussianBlur(mask, (k, 1), soften, borderType=cv2.BORDER_REPLICATE)
        mask = cv2.GaussianBlur(mask, (1, k), soften, borderType=cv2.BORDER_REPLICATE)[:, pad:mask.shape[1] - pad]
    return np.clip(mask, 0.0, 1.0)


def channel_mean(x: np.ndarray) -> np.ndarray:
    """``x.mean(-1)`` for a short last axis (colour channels), the same bytes about 10x faster: numpy reduces
    a short trailing axis slowly, so the channels are added in order and divided once."""
    if x.dtype.kind != "f":
        x = x.astype(np.float64)        # as numpy's mean of integers
    total = x[..., 0].copy()
    for k in range(1, x.shape[-1]):
        total += x[..., k]
    return total / x.dtype.type(x.shape[-1])


def warping_error(prev: np.ndarray, cur: np.ndarray, backward: np.ndarray,
                  valid: Optional[np.ndarray] = None, wrap: bool = True) -> float:
    """Mean |warp(prev, backward) - cur| over ``valid`` pixels, images as float in [0, 1] (or uint8)."""
    p = np.asarray(prev, np.float32)
    c = np.asarray(cur, np.float32)
    if np.asarray(prev).dtype == np.uint8:
        p, c = p / 255.0, c / 255.0
    diff = np.abs(warp(p, backward, wrap=wrap) - c)
    if diff.ndim == 3:
        diff = channel_mean(diff)
    if valid is not None:
        if not valid.any():
            return 0.0
        return float(diff[valid].mean())
    return float(diff.mean())
