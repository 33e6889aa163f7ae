"""A demo panorama that needs nothing from outside: photographs that scikit-image ships, placed on the sphere.

Four photos face the diagonals (so the ±180° column falls where two of them
blend, not through the middle of a photo); a star field is the sky and a
tissue micrograph the ground.  Each is a pinhole view pasted onto the sphere
with feathered edges, so the panorama wraps at ±180° and is seamless at the
poles.  The photos are public-domain or CC0 samples of scikit-image
(see skimage.data's documentation); the composite may be published.

:func:`target_lines` words the demo's check of its outputs against the
project's targets: each figure checked, and each miss with its margin.
"""
from __future__ import annotations

import math
from typing import Any, Dict, List, Tuple

import numpy as np

from . import sphere

# (photo loader name, yaw, pitch, field of view)
LAYOUT = (
    ("chelsea", 45.0, 0.0, 100.0),
    ("coffee", 135.0, 0.0, 100.0),
    ("rocket", 225.0, 0.0, 100.0),
    ("astronaut", 315.0, 0.0, 100.0),
    ("hubble_deep_field", 0.0, 90.0, 110.0),
    ("immunohistochemistry", 0.0, -90.0, 110.0),
)


def _photo(name: str) -> np.ndarray:
    import skimage.data

    img = getattr(skimage.data, name)()
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=-1)
    return img[..., :3].astype(np.float64) / 255.0


def _bilinear(img: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    x = np.clip(x, 0, w - 1.001)
    y = np.clip(y, 0, h - 1.001)
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    fx, fy = (x - x0)[..., None], (y - y0)[..., None]
    return ((img[y0, x0] * (1 - fx) + img[y0, x0 + 1] * fx) * (1 - fy)
            + (img[y0 + 1, x0] * (1 - fx) + img[y0 + 1, x0 + 1] * fx) * fy)


def demo_panorama(width: int = 1024) -> np.ndarray:
    """uint8 (width/2, width, 3) equirectangular panorama composed from scikit-image's sample photos."""
    height = width // 2
    uu, vv = np.meshgrid(np.arange(width), np.arange(height))
    dirs = sphere.dir_from_lonlat(*sphere.lonlat_from_pixel(uu, vv, width, height))
    acc = np.zeros((height, width, 3))
    wsum = np.zeros((height, width, 1))
    for name, yaw, pitch, fov in LAYOUT:
        photo = _photo(name)
        ph, pw = photo.shape[:2]
        side = max(ph, pw)  # a square view; the photo is centred and stretched to fill it
        x, y, front = sphere.project_to_view(dirs, side, side, fov, yaw, pitch, 0.0)
        nx = np.nan_to_num((x + 0.5) / side * 2 - 1, nan=9.0)
        ny = np.nan_to_num((y + 0.5) / side * 2 - 1, nan=9.0)
        inside = front & (np.abs(nx) < 1) & (np.abs(ny) < 1)
        edge = np.clip((1 - np.maximum(np.abs(nx), np.abs(ny))) / 0.25, 0, 1)
        weight = (edge * edge * (3 - 2 * edge) * inside)[..., None] + 1e-6 * inside[..., None]
        px = (nx + 1) / 2 * pw - 0.5
        py = (ny + 1) / 2 * ph - 0.5
        acc += _bilinear(photo, px, py) * weight
        wsum += weight
    # what no photo covers: a soft gradient from sky to ground
    lat = sphere.latitude_of_rows(height)[:, None, None]
    fill = np.where(lat > 0, [0.45, 0.55, 0.7], [0.35, 0.3, 0.25]) * (0.6 + 0.4 * np.cos(lat))
    out = np.where(wsum > 1e-9, acc / np.maximum(wsum, 1e-12), fill)
    blend = np.clip(wsum / 0.05, 0, 1)
    out = out * blend + fill * (1 - blend)
    return (np.clip(out, 0, 1) * 255).round().astype(np.uint8)


def demo_orbit(panorama: np.ndarray, frames: int, degrees_per_frame: float = 2.0):
    """Frames of a camera turning on the spot: the panorama rolled in longitude, a sub-pixel amount each frame."""
    t = sphere.to_tensor(panorama)
    w = panorama.shape[1]
    for i in range(frames):
        shift = i * degrees_per_frame / 360.0 * w
        whole = int(math.floor(shift))
        frac = shift - whole
        a = sphere.roll_lon(t, whole)
        b = sphere.roll_lon(t, whole + 1)
        yield sphere.to_uint8(a * (1 - frac) + b * frac)


def target_lines(label: str, figures: Dict[str, Any],
                 limits: Dict[str, Tuple[str, float]]) -> Tuple[List[str], List[str]]:
    """(one line per checked figure, one line per missed target saying by how much).

    ``limits`` are a figure family's own (:data:`hallucinator.quality.LIMITS` or
    :data:`hallucinator.video.view_figures.LIMITS`), so the targets have one home; figures absent from
    ``figures`` are not checked.
    """
    from .quality import verdicts

    ok = verdicts(figures, limits)
    lines, misses = [], []
    for key, (op, limit) in limits.items():
        if key not in ok:
            continue
        value = float(figures[key])
        lines.append(f"  {label} {key} {value:.3f} (target {op} {limit:g}) {'ok' if ok[key] else 'MISSED'}")
        if not ok[key]:
            misses.append(f"{label}: {key} is {value:.3f}, missing its target {op} {limit:g} by "
                          f"{abs(value - limit):.3f}")
    return lines, misses
