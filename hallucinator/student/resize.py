"""Fast wrap-aware resizes of equirect numpy images for the student's run time (a frame per display refresh).

:func:`hallucinator.sphere.resize_equirect_image` is the reference (torch, float64, widened across the
seam); at 4096x2048 that is too slow for a live frame.  Here:

* **enlarge** (a residual onto the full frame): bilinear with exactly the sphere module's sample positions
  (output column ``j`` at input column ``(j + 0.5) * w / W - 0.5``), longitude wrapping through OpenCV's
  ``BORDER_WRAP``, rows clamped at the poles as ``F.interpolate`` does; equal to the reference (tested);
* **shrink** (a frame to the dreaming size): OpenCV's area average, whose output pixel only ever covers input
  pixels of its own span, so no column reaches across ±180° and none needs to.
"""
from __future__ import annotations

import threading
from typing import Dict, Tuple

import cv2
import numpy as np

_maps: Dict[Tuple[int, int, int, int], Tuple[np.ndarray, np.ndarray]] = {}
_lock = threading.Lock()


def _remap_grid(w: int, h: int, width: int, height: int) -> Tuple[np.ndarray, np.ndarray]:
    key = (w, h, width, height)
    with _lock:
        if key not in _maps:
            x = ((np.arange(width, dtype=np.float64) + 0.5) * (w / width) - 0.5).astype(np.float32)
            y = np.clip((np.arange(height, dtype=np.float64) + 0.5) * (h / height) - 0.5, 0, h - 1).astype(np.float32)
            _maps[key] = (np.ascontiguousarray(np.broadcast_to(x[None, :], (height, width))),
                          np.ascontiguousarray(np.broadcast_to(y[:, None], (height, width))))
        return _maps[key]


def enlarge(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Bilinear, longitude wrapping, the sphere module's sample positions (any size change works)."""
    h, w = image.shape[:2]
    if (w, h) == (width, height):
        return image
    mx, my = _remap_grid(w, h, width, height)
    return cv2.remap(image, mx, my, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)


def shrink(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Area average when both sides shrink (no wrap needed); otherwise :func:`enlarge`."""
    h, w = image.shape[:2]
    if (w, h) == (width, height):
        return image
    if width <= w and height <= h:
        return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    return enlarge(image, width, height)
