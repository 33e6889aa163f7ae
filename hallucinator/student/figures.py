"""The picture of student against teacher on a held-out panorama: whole panoramas, then 90° views."""
from __future__ import annotations

from typing import List, Tuple

import cv2
import numpy as np

from .. import sphere

VIEWS: Tuple[Tuple[str, float, float], ...] = (("up", 0.0, 90.0), ("down", 0.0, -90.0), ("ahead", 0.0, 0.0))


def _label(img: np.ndarray, text: str) -> np.ndarray:
    out = np.ascontiguousarray(img.copy())
    cv2.putText(out, text, (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(out, text, (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def _views(img: np.ndarray, side: int) -> List[np.ndarray]:
    t = sphere.to_tensor(img)
    return [sphere.to_uint8(sphere.perspective_view(t, (side, side), 90.0, yaw, pitch)) for _, yaw, pitch in VIEWS]


def comparison(picture: np.ndarray, teacher: np.ndarray, student: np.ndarray, width: int = 512) -> np.ndarray:
    """uint8 sheet: the panorama, the teacher's dream, the student's dream (top row); 90° views up, down and
    ahead of the teacher's dream, then of the student's (bottom row).  All inputs uint8 (h, w, 3)."""
    h = width // 2
    top = [_label(sphere.resize_equirect_image(im, width=width, height=h), name)
           for im, name in ((picture, "input"), (teacher, "teacher (engine)"), (student, "student"))]
    side = width // 2
    bottom = [_label(v, f"{who} {name}") for im, who in ((teacher, "teacher"), (student, "student"))
              for v, (name, _, _) in zip(_views(im, side), VIEWS)]
    return np.concatenate([np.concatenate(top, axis=1), np.concatenate(bottom, axis=1)], axis=0)

