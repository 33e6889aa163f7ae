"""A contact sheet of a model's layers: what each one dreams, seen as a headset wearer sees it.

One row per panorama, one column per layer (the source first): each cell is a
perspective view of the dreamed panorama (90° at the horizon by default), so the
patterns are judged at the size they are seen in a headset, not shrunk into a
thumbnail of the whole equirectangular frame.  Every cell of a row is dreamed
from the same source with the same seed; only the layer differs.

``hallucinator models --contact-sheet OUT.jpg`` makes one; the default layer of
the embedded model was chosen by looking at one (docs/images/).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np


@dataclass
class SheetSpec:
    """What a contact sheet shows."""

    model: str
    layers: List[str]
    images: List[str]
    size: Tuple[int, int] = (1024, 512)   # the panorama size dreamed
    cell: int = 320                       # side of each perspective view, pixels
    fov: float = 90.0
    yaw: float = 0.0
    pitch: float = 0.0
    seed: int = 0
    device: str = "auto"
    overrides: dict = field(default_factory=dict)   # other DreamConfig fields, e.g. iterations


def dream_cells(spec: SheetSpec, progress: Optional[Callable[[str], None]] = None) -> List[List[np.ndarray]]:
    """Rows of uint8 views: the source's view, then each layer's dream's view."""
    from ..config import DreamConfig
    from ..engine import Dreamer
    from ..io.images import read_image
    from ..sphere import perspective_view, resize_equirect_image, to_tensor, to_uint8
    from .loading import load_backbone

    net = load_backbone(spec.model)

    def view(img: np.ndarray) -> np.ndarray:
        t = perspective_view(to_tensor(img), (spec.cell, spec.cell), spec.fov, spec.yaw, spec.pitch)
        return to_uint8(t)

    rows = []
    for path in spec.images:
        src = resize_equirect_image(read_image(path), width=spec.size[0], height=spec.size[1])
        row = [view(src)]
        for layer in spec.layers:
            if progress:
                progress(f"{path}: {layer}")
            cfg = DreamConfig(model=spec.model, layers=[layer], seed=spec.seed, device=spec.device,
                              **spec.overrides)
            out = Dreamer(cfg, net=net).dream(to_tensor(src))
            row.append(view(to_uint8(out)))
        rows.append(row)
    return rows


def compose(rows: Sequence[Sequence[np.ndarray]], column_titles: Sequence[str], row_titles: Sequence[str],
            gap: int = 4, label: int = 22) -> np.ndarray:
    """The cells in a grid on white, a title above each column and at the top left of each row."""
    from PIL import Image, ImageDraw, ImageFont

    side = rows[0][0].shape[0]
    cols = len(rows[0])
    width = cols * side + (cols + 1) * gap
    height = len(rows) * (side + label) + (len(rows) + 1) * gap
    sheet = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(16)
    for r, row in enumerate(rows):
        y = gap + r * (side + label + gap)
        for c, cell in enumerate(row):
            x = gap + c * (side + gap)
            title = column_titles[c] if c else f"{row_titles[r]} (source)"
            draw.text((x + 2, y + 2), title, fill=(0, 0, 0), font=font)
            sheet.paste(Image.fromarray(cell), (x, y + label))
    return np.asarray(sheet)


def contact_sheet(spec: SheetSpec, progress: Optional[Callable[[str], None]] = None) -> np.ndarray:
    """Dream every layer on every image and lay the views out (uint8 RGB)."""
    from pathlib import Path

    rows = dream_cells(spec, progress)
    return compose(rows, ["source", *spec.layers], [Path(p).stem for p in spec.images])
