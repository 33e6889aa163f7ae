"""Participant-facing screens drawn as images (PIL), so any GL context (window or headset) can show them.

A :class:`Screen` says what to show; :func:`render` turns it into an RGBA
``uint8`` array.  Screens carry no condition names: the runner builds them
from protocol text, questionnaire items and generic words only.
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np

CONTINUE_HINT = "Press SPACE to continue."


@dataclass(frozen=True)
class Slider:
    value: Optional[float]            # None: not yet touched (marker hidden)
    minimum: float = 0.0
    maximum: float = 100.0
    anchors: Tuple[str, ...] = ("not at all", "extremely")
    points: int = 0                   # 0: continuous (VAS); N: Likert with N points
    labels: Tuple[str, ...] = ()


@dataclass(frozen=True)
class Screen:
    body: str = ""
    title: str = ""
    big: str = ""
    hint: str = ""
    progress: str = ""
    slider: Optional[Slider] = None
    background: Tuple[int, int, int] = (24, 24, 28)
    transparent: bool = False         # draw over the video (timing tasks on the stimulus)


@functools.lru_cache(maxsize=8)
def _font(size: int):
    from PIL import ImageFont
    try:
        import matplotlib
        path = os.path.join(matplotlib.get_data_path(), "fonts", "ttf", "DejaVuSans.ttf")
        return ImageFont.truetype(path, size)
    except Exception:  # pragma: no cover
        return ImageFont.load_default()


def _wrap(draw, text: str, font, width: int):
    lines = []
    for para in text.split("\n"):
        words, line = para.split(), ""
        for w in words:
            trial = (line + " " + w).strip()
            if draw.textlength(trial, font=font) <= width or not line:
                line = trial
            else:
                lines.append(line)
                line = w
        lines.append(line)
    return lines


def slider_geometry(width: int, height: int):
    """(x0, x1, y) of the slider track in pixels, for mouse hit-testing."""
    return int(width * 0.15), int(width * 0.85), int(height * 0.68)


def slider_value_at(x: float, width: int, height: int, slider: Slider) -> float:
    x0, x1, _ = slider_geometry(width, height)
    f = min(1.0, max(0.0, (x - x0) / max(1, x1 - x0)))
    if slider.points:
        return float(1 + round(f * (slider.points - 1)))
    return round(slider.minimum + f * (slider.maximum - slider.minimum), 1)


@functools.lru_cache(maxsize=32)
def render(screen: Screen, width: int, height: int) -> np.ndarray:
    """The screen as an RGBA uint8 array (height, width, 4), top row first."""
    from PIL import Image, ImageDraw
    alpha = 0 if screen.transparent else 255
    img = Image.new("RGBA", (width, height), (*screen.background, alpha))
    d = ImageDraw.Draw(img)
    s = height / 720.0
    white, grey = (235, 235, 235, 255), (150, 150, 160, 255)
    margin = int(width * 0.1)
    y = int(60 * s)
    if screen.transparent and (screen.big or screen.hint):
        d.rounded_rectangle([width * 0.12, height * 0.28, width * 0.88, height * 0.8], radius=int(20 * s),
                            fill=(0, 0, 0, 170))
    if screen.title:
        f = _font(max(10, int(34 * s)))
        for ln in _wrap(d, screen.title, f, width - 2 * margin):
            d.text((width / 2, y), ln, font=f, fill=white, anchor="mt")
            y += int(44 * s)
        y += int(20 * s)
    if screen.body:
        f = _font(max(9, int(28 * s)))
        for ln in _wrap(d, screen.body, f, width - 2 * margin):
            d.text((width / 2, y), ln, font=f, fill=white, anchor="mt")
            y += int(38 * s)
    if screen.big:
        f = _font(max(12, int(96 * s)))
        d.text((width / 2, height * 0.45), screen.big, font=f, fill=white, anchor="mm")
    if screen.slider is not None:
        sl = screen.slider
        x0, x1, ys = slider_geometry(width, height)
        d.line([(x0, ys), (x1, ys)], fill=grey, width=max(2, int(4 * s)))
        fa = _font(max(8, int(22 * s)))
        if sl.points:
            for k in range(sl.points):
                xk = x0 + (x1 - x0) * k / (sl.points - 1)
                d.line([(xk, ys - 12 * s), (xk, ys + 12 * s)], fill=grey, width=max(1, int(3 * s)))
                lab = sl.labels[k] if sl.labels else str(k + 1)
                d.text((xk, ys + 24 * s), lab, font=fa, fill=grey, anchor="mt")
        else:
            for xk in (x0, x1):
                d.line([(xk, ys - 14 * s), (xk, ys + 14 * s)], fill=grey, width=max(1, int(3 * s)))
        if sl.anchors and not (sl.points and sl.labels):
            yl = ys + (60 if sl.points else 26) * s
            d.text((x0, yl), sl.anchors[0], font=fa, fill=grey, anchor="mt")
            d.text((x1, yl), sl.anchors[-1], font=fa, fill=grey, anchor="mt")
        if sl.value is not None:
            f = (sl.value - (1 if sl.points else sl.minimum)) / (
                (sl.points - 1) if sl.points else (sl.maximum - sl.minimum))
            xm = x0 + (x1 - x0) * min(1.0, max(0.0, f))
            r = 14 * s
            d.ellipse([xm - r, ys - r, xm + r, ys + r], fill=(250, 200, 60, 255))
    if screen.hint:
        f = _font(max(8, int(22 * s)))
        yh = int(height * 0.6) if screen.transparent else height - int(90 * s)
        for ln in _wrap(d, screen.hint, f, width - 2 * margin):
            d.text((width / 2, yh), ln, font=f, fill=grey, anchor="mt")
            yh += int(30 * s)
    if screen.progress:
        d.text((width - 20 * s, height - 20 * s), screen.progress, font=_font(max(8, int(18 * s))), fill=grey,
               anchor="rb")
    arr = np.asarray(img, dtype=np.uint8)
    arr.setflags(write=False)
    return arr
