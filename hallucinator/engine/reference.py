"""The plain textbook DeepDream (google/deepdream), kept as the yardstick for speed and for the seam and pole
figures (``hallucinator bench dream``, the tests), and its plain resize, which flat pictures share."""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional

import torch
import torch.nn.functional as F

from .timing import PartTimer

if TYPE_CHECKING:
    from ..models import Backbone


def resize_flat(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Resize an ordinary picture (N, C, H, W): bilinear, antialiased when shrinking; no wrap."""
    if x.shape[-2:] == (h, w):
        return x
    return F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False,
                         antialias=(h < x.shape[-2] or w < x.shape[-1]))


def reference_dream(net: "Backbone", src: torch.Tensor, layer: str, octaves: int = 4, octave_scale: float = 1.4,
                    iterations: int = 10, step_size: float = 1.5, jitter: int = 32,
                    seed: int = 0, timer: Optional[PartTimer] = None) -> torch.Tensor:
    """google/deepdream's algorithm, as is: flat image, zero padding, random roll in both axes.

    L2 objective on one layer, gradient divided by its mean absolute value,
    octaves made by plain resizing.  The yardstick for speed and for the seam
    and pole figures.  ``timer`` (off when None) counts the network's passes
    as "network" and the pyramid's resizes as "octave resize".
    """
    timer = timer or PartTimer()
    gen = torch.Generator().manual_seed(seed)
    net.set_padding("zeros")
    src = src.to(next(net.buffers()).device)
    pyr = [src]
    with timer("octave resize"):
        for _ in range(octaves - 1):
            h, w = pyr[-1].shape[-2:]
            pyr.append(resize_flat(pyr[-1], int(round(h / octave_scale)), int(round(w / octave_scale))))
    pyr = pyr[::-1]
    d = torch.zeros_like(pyr[0])
    for k, base in enumerate(pyr):
        if k:
            with timer("octave resize"):
                d = resize_flat(d, *base.shape[-2:])
        img = (base + d).clamp(0, 1)
        for _ in range(iterations):
            ox, oy = (int(v) for v in torch.randint(-jitter, jitter + 1, (2,), generator=gen))
            x = torch.roll(img, (oy, ox), dims=(-2, -1)).detach().requires_grad_(True)
            with timer("network"):
                a = net(x, [layer])[layer]
                (g,) = torch.autograd.grad(a.pow(2).sum(), x)
            g = torch.roll(g, (-oy, -ox), dims=(-2, -1))
            img = (img + (step_size / 255.0) / g.abs().mean().clamp_min(1e-12) * g).clamp(0, 1)
        d = img - base
    return (pyr[-1] + d).clamp(0, 1)
