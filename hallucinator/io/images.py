"""Reading and writing still images at the edges: uint8 HWC RGB, written atomically."""
from __future__ import annotations

import os
from pathlib import Path
from typing import List, Optional

import cv2
import numpy as np

from ..atomic import atomic_write
from ..errors import UserError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".exr", ".hdr", ".gif")  # still images
WRITABLE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")


def read_image(path: str, notes: Optional[List[str]] = None) -> np.ndarray:
    """Read an image as uint8 HWC RGB.

    Grayscale is expanded to RGB, an alpha channel is dropped (composited on
    black), 16-bit and float images are scaled to 8 bits; each conversion is
    appended to ``notes`` when given.
    """
    p = Path(path)
    if not p.exists():
        raise UserError(f"input {path} does not exist; check the path")
    if p.is_dir():
        raise UserError(f"input {path} is a folder; give an image or video file")
    data = np.fromfile(str(p), dtype=np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if img is None:
        raise UserError(f"cannot read {path} as an image (unknown format or corrupt file); "
                        f"give a PNG, JPEG, TIFF or WebP file")
    notes = notes if notes is not None else []
    if img.dtype == np.uint16:
        img = (img.astype(np.float32) / 257.0).round().astype(np.uint8)
        notes.append("16-bit input scaled to 8 bits")
    elif img.dtype in (np.float32, np.float64):
        img = (np.clip(img, 0, 1) * 255).round().astype(np.uint8)
        notes.append("floating-point input clipped to [0, 1] and scaled to 8 bits")
    elif img.dtype != np.uint8:
        raise UserError(f"{path} has unsupported sample type {img.dtype}; convert it to 8- or 16-bit RGB")
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
        notes.append("grayscale input expanded to RGB")
    elif img.shape[2] == 4:
        alpha = img[..., 3:4].astype(np.float32) / 255.0
        img = (img[..., :3].astype(np.float32) * alpha).round().astype(np.uint8)
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        notes.append("alpha channel composited onto black")
    elif img.shape[2] == 3:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    elif img.shape[2] == 2:
        img = cv2.cvtColor(img[..., 0], cv2.COLOR_GRAY2RGB)
        notes.append("grayscale+alpha input: alpha dropped, expanded to RGB")
    else:
        raise UserError(f"{path} has {img.shape[2]} channels; give an RGB, RGBA or grayscale image")
    return np.ascontiguousarray(img)


def check_writable(path: str) -> Path:
    """Fail early, with a clear message, if ``path`` cannot be written."""
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.exists():
        raise UserError(f"cannot write {path}: folder {parent} does not exist; create it first")
    if not os.access(parent, os.W_OK):
        raise UserError(f"cannot write {path}: folder {parent} is not writable; choose another output")
    if p.is_dir():
        raise UserError(f"output {path} is a folder; give a file name")
    return p


def write_image(path: str, img: np.ndarray) -> None:
    """Write uint8 HWC RGB atomically (a temporary name in the same folder, then a rename)."""
    p = check_writable(path)
    if p.suffix.lower() not in WRITABLE_SUFFIXES:
        raise UserError(f"cannot write images with suffix {p.suffix!r}; use .png, .jpg, .tif or .webp")
    params = [cv2.IMWRITE_JPEG_QUALITY, 95] if p.suffix.lower() in (".jpg", ".jpeg") else []
    ok, buf = cv2.imencode(p.suffix.lower() if p.suffix.lower() != ".tiff" else ".tif",
                           cv2.cvtColor(img, cv2.COLOR_RGB2BGR), params)
    if not ok:
        raise UserError(f"could not encode {path}; use .png or .jpg")

    def write(tmp):
        try:
            with open(tmp, "wb") as f:
                f.write(buf.tobytes())
                f.flush()
                os.fsync(f.fileno())
        except OSError as exc:
            raise UserError(f"cannot write {path}: {exc.strerror}; free some space or choose another output") from None

    atomic_write(p, write)


def is_image_path(path: str) -> bool:
    """True when ``path`` ends in a still-image suffix."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES
