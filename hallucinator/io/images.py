"""Reading and writing still images at the edges: uint8 HWC RGB, written atomically."""
from __future__ import annotations

import os
from pathlib import Path
from typing import List, Optional, Tuple

import cv2
import numpy as np

from ..atomic import atomic_write
from ..errors import UserError, notice
from .xmp import GPANO_SUFFIXES, embed_xmp, gpano_xmp

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".exr", ".hdr", ".gif")  # still images
WRITABLE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")
NEUTRAL = 128   # the grey that transparent areas are composited onto


def read_image(path: str, notes: Optional[List[str]] = None) -> np.ndarray:
    """Read an image as uint8 HWC RGB.

    Grayscale is expanded to RGB, transparency is composited onto neutral
    grey (:func:`composite_on_neutral`), 16-bit and float images are scaled to
    8 bits; each conversion is appended to ``notes`` when given.
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
        img = composite_on_neutral(cv2.cvtColor(img, cv2.COLOR_BGRA2RGBA), notes)
    elif img.shape[2] == 3:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    elif img.shape[2] == 2:
        rgba = np.concatenate([np.repeat(img[..., :1], 3, axis=2), img[..., 1:]], axis=2)
        img = composite_on_neutral(rgba, notes)
        notes.append("grayscale input expanded to RGB")
    else:
        raise UserError(f"{path} has {img.shape[2]} channels; give an RGB, RGBA or grayscale image")
    return np.ascontiguousarray(img)


def composite_on_neutral(rgba: np.ndarray, notes: List[str]) -> np.ndarray:
    """uint8 RGBA composited onto neutral grey (:data:`NEUTRAL`), with a note; opaque alpha is just dropped.

    Grey, not black: a transparent area then reads as a flat mid-tone the dream
    treats like any plain surface, not as a dark hole it outlines.
    """
    alpha = rgba[..., 3:4].astype(np.float32) / 255.0
    if alpha.min() >= 1.0:
        notes.append("alpha channel dropped (fully opaque)")
        return np.ascontiguousarray(rgba[..., :3])
    notes.append(f"transparent areas ({100 * float((alpha < 1).mean()):.0f}% of pixels) composited onto "
                 f"neutral grey {NEUTRAL}; flatten the image yourself to choose another background")
    return over_neutral(rgba)


def over_neutral(rgba: np.ndarray) -> np.ndarray:
    """uint8 RGBA composited onto neutral grey (:data:`NEUTRAL`): uint8 RGB."""
    alpha = rgba[..., 3:4].astype(np.float32) / 255.0
    rgb = rgba[..., :3].astype(np.float32) * alpha + NEUTRAL * (1.0 - alpha)
    return rgb.round().astype(np.uint8)


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


def write_image(path: str, img: np.ndarray, spherical: bool = False) -> None:
    """Write uint8 HWC RGB atomically (a temporary name in the same folder, then a rename).

    ``spherical`` marks a PNG or JPEG as a full equirectangular panorama (XMP GPano,
    :mod:`hallucinator.io.xmp`); other formats are written without it.
    """
    p = check_writable(path)
    if p.suffix.lower() not in WRITABLE_SUFFIXES:
        raise UserError(f"cannot write images with suffix {p.suffix!r}; use .png, .jpg, .tif or .webp")
    params = [cv2.IMWRITE_JPEG_QUALITY, 95] if p.suffix.lower() in (".jpg", ".jpeg") else []
    ok, buf = cv2.imencode(p.suffix.lower() if p.suffix.lower() != ".tiff" else ".tif",
                           cv2.cvtColor(img, cv2.COLOR_RGB2BGR), params)
    if not ok:
        raise UserError(f"could not encode {path}; use .png or .jpg")
    data = buf.tobytes()
    if spherical and p.suffix.lower() in GPANO_SUFFIXES:
        data = embed_xmp(data, p.suffix, gpano_xmp(img.shape[1], img.shape[0]))

    def write(tmp):
        try:
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        except OSError as exc:
            raise UserError(f"cannot write {path}: {exc.strerror}; free some space or choose another output") from None

    atomic_write(p, write)


def read_still_input(path: str, flat: bool, fix: str) -> Tuple[np.ndarray, List[str]]:
    """The input still as uint8 RGB and the conversions made (each also shown as a notice).

    A panorama (``flat`` False) must be 2:1; ``fix`` ends the error that says it is not.
    """
    notes: List[str] = []
    img = read_image(path, notes)
    for note in notes:
        notice(f"{path}: {note}")
    h, w = img.shape[:2]
    if not flat and abs(w - 2 * h) > 1:
        raise UserError(f"{path} is {w}x{h}, not a 2:1 equirectangular panorama; {fix}")
    return img, notes


def unmarked_outputs(path: str, flat: bool) -> List[str]:
    """A warning (also shown) when a panorama is written where no 360° metadata can go; else nothing."""
    suffix = Path(path).suffix.lower()
    if flat or suffix in GPANO_SUFFIXES:
        return []
    msg = f"{suffix} output carries no 360° metadata; write .png or .jpg for photo viewers"
    notice(msg)
    return [msg]


def write_image_with_sidecar(path: str, img: np.ndarray, sidecar: dict, spherical: bool) -> None:
    """The image, then ``PATH.json``; the image is removed again when its sidecar cannot be written."""
    from ..provenance import write_sidecar

    write_image(path, img, spherical=spherical)
    try:
        write_sidecar(path + ".json", sidecar)
    except BaseException:
        Path(path).unlink(missing_ok=True)
        raise


def is_image_path(path: str) -> bool:
    """True when ``path`` ends in a still-image suffix."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES
