"""The gradient of the objective with respect to an image, in one pass or in overlapping feathered tiles.

A pass larger than ``max_pixels`` is split into tiles whose margins are at
least the layer's receptive radius, so each tile's core gets exactly the
gradient the whole pass would give; the cores are feathered together over
the margins.
"""
from __future__ import annotations

import contextlib
import math
from typing import TYPE_CHECKING, List, Optional, Tuple

import torch

from .. import sphere
from .objectives import Objective

if TYPE_CHECKING:
    from ..models import Backbone

AUTO_TILE_PIXELS = {"cpu": 4_000_000, "cuda": 16_000_000}  # the pass size above which tiles are used (0: auto)


def feather(n: int, ramp: int, at_start: bool, at_end: bool, device=None) -> torch.Tensor:
    """Weights (n,) along one axis of a tile core: 1, ramping linearly over ``ramp`` pixels at the chosen ends."""
    w = torch.ones(n, device=device)
    if ramp > 0:
        r = torch.linspace(0, 1, ramp + 2, device=device)[1:-1]
        if at_start:
            w[:ramp] = r
        if at_end:
            w[n - ramp:] = r.flip(0)
    return w


def tile_cores(size: int, tile: int, step: int, align: int) -> List[Tuple[int, int]]:
    """(start, stop) of the cores of overlapping tiles along one axis; starts aligned, the last reaches the end."""
    if size <= tile:
        return [(0, size)]
    starts = sorted({(v // align) * align for v in list(range(0, size - tile, step)) + [size - tile]})
    return [(a, size if i == len(starts) - 1 else a + tile) for i, a in enumerate(starts)]


class TiledGradient:
    """Gradient of an objective with respect to an image, in whole passes or overlapping tiles.

    The network runs in ``memory_format`` (channels-last: the convolutions' fast layout on CPUs and GPUs;
    the network's weights must be in it too) and, when ``autocast`` names a dtype, under autocast to it;
    the gradient comes back as an ordinary contiguous float tensor either way.
    """

    def __init__(self, net: "Backbone", objective: Objective, stride: int, max_pixels: int, overlap: int,
                 memory_format: torch.memory_format = torch.contiguous_format,
                 autocast: Optional[torch.dtype] = None):
        self.net, self.objective, self.stride = net, objective, stride
        self.max_pixels, self.overlap = max_pixels, overlap
        self.memory_format, self.autocast = memory_format, autocast
        self._radius: Optional[int] = None

    def tile_overlap(self) -> int:
        """Margin of each tile, in pixels: the configured one, or the layer's receptive radius (0 = automatic).

        With a margin at least the receptive radius (the farthest input pixel
        that moves the centre activation), a tile's core gets exactly the
        gradient of the whole pass.
        """
        s = self.stride
        if self.overlap > 0:
            return max(-(-self.overlap // s) * s, s)
        if self._radius is None:
            self._radius = self._receptive_radius()
        return self._radius

    def _receptive_radius(self) -> int:
        """The farthest input pixel that moves the centre activation, rounded up to the stride (at least 64)."""
        s, n = self.stride, 512
        x = torch.rand(1, 3, n, n, generator=torch.Generator().manual_seed(0))
        x = x.to(next(self.net.buffers()).device).requires_grad_(True)
        self.net.set_padding("zeros")
        a = self.net(x, self.objective.layers)
        c = min(v.shape[-1] for v in a.values()) // 2
        total = sum(v[..., c, c].pow(2).sum() for v in a.values())
        (g,) = torch.autograd.grad(total, x)
        ys, xs = torch.nonzero(g.abs().sum(dim=(0, 1)) > 0, as_tuple=True)
        centre = c * s + s // 2
        radius = int(max((ys - centre).abs().max(), (xs - centre).abs().max())) + s
        return max(-(-radius // s) * s, 64)

    def grad(self, x: torch.Tensor, mode: str) -> torch.Tensor:
        """d objective / d x for x (1, 3, h, w), with the network padded in ``mode``."""
        self.net.set_padding(mode)
        h, w = x.shape[-2:]
        if h * w <= self.max_pixels:
            return self._grad_whole(x)
        return self._grad_tiled(x, mode)

    def _grad_whole(self, x: torch.Tensor) -> torch.Tensor:
        x = x.detach().contiguous(memory_format=self.memory_format).requires_grad_(True)
        amp = torch.autocast(x.device.type, dtype=self.autocast) if self.autocast else contextlib.nullcontext()
        with amp:
            loss = self.objective(self.net(x, self.objective.layers))
        (g,) = torch.autograd.grad(loss.float(), x)
        return g.contiguous()

    def _grad_tiled(self, x: torch.Tensor, mode: str) -> torch.Tensor:
        """Overlapping tiles, each seeing a margin of real neighbours, feathered together.

        Where a tile meets the image's own edge it is padded per layer exactly
        as the whole pass would be (zeros, mirrored rows, or over the pole),
        so only the borders between tiles differ, and those lie in margins.
        Across ±180° (``wrap``/``sphere`` when the width is tiled) the margin is
        taken from the other side of the seam, so the tiles of a panorama wrap.
        """
        h, w = x.shape[-2:]
        s, ov = self.stride, self.tile_overlap()
        side = max(int(math.sqrt(self.max_pixels)) // s * s - 2 * ov, 2 * ov, 4 * s)
        split_w = w > side
        # margins taken at the input: across the seam, and (whole sphere, split in width) over the poles
        px = ov if split_w and mode in ("wrap", "sphere") else 0
        py = ov if split_w and mode == "sphere" else 0
        src = sphere.pad_sphere(x, px, px, py, py, vertical="pole") if (px or py) else x
        # inside a tile the layers pad as the whole pass does; a tile split from a whole sphere has its pole margin
        self.net.set_padding("wrap" if (mode == "sphere" and split_w) else mode)
        out = torch.zeros_like(x)
        weight = torch.zeros(1, 1, h, w, dtype=x.dtype, device=x.device)
        for y0, y1 in tile_cores(h, side, side - ov, s):
            ty0, ty1 = (y0 - ov, y1 + ov) if py else (max(y0 - ov, 0), min(y1 + ov, h))
            for x0, x1 in tile_cores(w, side, side - ov, s):
                tx0, tx1 = (x0 - ov, x1 + ov) if px else (max(x0 - ov, 0), min(x1 + ov, w))
                tile = src[..., ty0 + py:ty1 + py, tx0 + px:tx1 + px]
                g = self._grad_whole(tile)[..., y0 - ty0:y1 - ty0, x0 - tx0:x1 - tx0]
                f = (feather(y1 - y0, ov, y0 > 0, y1 < h, x.device)[:, None]
                     * feather(x1 - x0, ov, x0 > 0, x1 < w, x.device)[None, :]).to(x)
                out[..., y0:y1, x0:x1] += g * f
                weight[..., y0:y1, x0:x1] += f
        return out / weight.clamp_min(1e-8)
