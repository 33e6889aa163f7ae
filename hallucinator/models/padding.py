"""Explicit padding that the engine switches per pass: ordinary, wrapped band, or whole sphere.

Every spatial padding in a backbone is a :class:`Pad` module, so the same
weights can run as an ordinary picture network (``"zeros"``), on a band cut out
of a panorama (``"wrap"``: longitude wraps, rows mirror), or on a whole
panorama (``"sphere"``: longitude wraps, rows continue over the poles).  With an
input width that is a multiple of the network's total stride, a wrapped image
stays exactly periodic through every strided layer.
"""
from __future__ import annotations

import math
import weakref
from typing import List, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..sphere import pad_sphere

PAD_MODES = ("zeros", "wrap", "sphere")


class Pad(nn.Module):
    """Explicit padding (left, right, top, bottom) whose behaviour follows the model's padding mode."""

    def __init__(self, left: int, right: int, top: int, bottom: int, fill: float = 0.0):
        super().__init__()
        self.amount = (int(left), int(right), int(top), int(bottom))
        self.fill = float(fill)
        self.mode = "zeros"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        l, r, t, b = self.amount
        if not (l or r or t or b):
            return x
        if self.mode == "zeros":
            return F.pad(x, (l, r, t, b), value=self.fill)
        return SpherePad.apply(x, self.amount, "reflect" if self.mode == "wrap" else "pole")

    def extra_repr(self) -> str:
        return f"amount={self.amount}, mode={self.mode}"


class SpherePad(torch.autograd.Function):
    """:func:`sphere.pad_sphere` with a backward that folds the margins' gradient onto the rows and columns
    they were copied from: one copy of the gradient and a few margin-sized additions.  (Autograd through the
    slices of ``pad_sphere`` makes a zero-filled input-sized tensor per slice and adds them up: measured 2.5x
    the time of a zero-padded network step.)"""

    @staticmethod
    def forward(ctx, x, amount, vertical):
        ctx.amount, ctx.vertical, ctx.size = amount, vertical, tuple(x.shape[-2:])
        return pad_sphere(x, *amount, vertical=vertical)

    @staticmethod
    def backward(ctx, grad):
        return fold_sphere_pad(grad, ctx.amount, ctx.vertical, *ctx.size), None, None


def fold_sphere_pad(grad: torch.Tensor, amount: Tuple[int, int, int, int], vertical: str, h: int,
                    w: int) -> torch.Tensor:
    """The gradient of :func:`sphere.pad_sphere`'s input (N, C, h, w) given its output's gradient ``grad``."""
    left, right, top, bottom = amount
    g = grad[..., left:left + w].clone()  # keeps channels-last when grad has it
    if left:   # the left margin was copied from the last columns, the right from the first
        g[..., w - left:] += grad[..., :left]
    if right:
        g[..., :right] += grad[..., left + w:]
    x = g[..., top:top + h, :]
    if vertical == "pole":
        if top:
            x[..., :top, :] += torch.roll(g[..., :top, :], shifts=-(w // 2), dims=-1).flip(-2)
        if bottom:
            x[..., h - bottom:, :] += torch.roll(g[..., top + h:, :], shifts=-(w // 2), dims=-1).flip(-2)
    elif vertical == "reflect" and h > max(top, bottom):
        if top:
            x[..., 1:top + 1, :] += g[..., :top, :].flip(-2)
        if bottom:
            x[..., h - 1 - bottom:h - 1, :] += g[..., top + h:, :].flip(-2)
    elif vertical == "reflect":  # the edge row was repeated
        if top:
            x[..., :1, :] += g[..., :top, :].sum(dim=-2, keepdim=True)
        if bottom:
            x[..., h - 1:, :] += g[..., top + h:, :].sum(dim=-2, keepdim=True)
    return x


def padded_call(pad: Pad, layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``layer(pad(x))``; zero padding that is the same on both sides goes into the layer's own padding instead,
    so no padded copy is made (the layer pads inside its kernel; the result is the same)."""
    l, r, t, b = pad.amount
    if pad.mode == "zeros" and l == r and t == b and (l or t):
        if isinstance(layer, nn.Conv2d) and pad.fill == 0.0 and layer.padding_mode == "zeros":
            return F.conv2d(x, layer.weight, layer.bias, layer.stride, (t, l), layer.dilation, layer.groups)
        k = _pair(layer.kernel_size) if isinstance(layer, (nn.MaxPool2d, nn.AvgPool2d)) else (0, 0)
        if 2 * t <= k[0] and 2 * l <= k[1]:  # what the pools allow as padding
            if isinstance(layer, nn.MaxPool2d) and pad.fill == -math.inf:
                return F.max_pool2d(x, k, layer.stride, (t, l), layer.dilation)
            if isinstance(layer, nn.AvgPool2d) and pad.fill == 0.0 and layer.count_include_pad:
                return F.avg_pool2d(x, k, layer.stride, (t, l), count_include_pad=True,
                                    divisor_override=layer.divisor_override)
    return layer(pad(x))


class PaddedLayer(nn.Sequential):
    """A :class:`Pad` and the conv or pool it pads for (state-dict keys as ``nn.Sequential(pad, layer)``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return padded_call(self[0], self[1], x)


def same_padding(kernel: int, stride: int) -> Tuple[int, int]:
    """TensorFlow's "same" padding for an input that is a multiple of the stride: (before, after)."""
    total = max(kernel - stride, 0)
    return total // 2, total - total // 2


_PADS: "weakref.WeakKeyDictionary[nn.Module, List[Pad]]" = weakref.WeakKeyDictionary()


def pads(model: nn.Module) -> List[Pad]:
    """The :class:`Pad` modules inside ``model``, found once per model (the engine switches them on every
    gradient pass, and walking a network's modules each time cost about 6 ms per switch on a CPU)."""
    found = _PADS.get(model)
    if found is None:
        found = _PADS[model] = [m for m in model.modules() if isinstance(m, Pad)]
    return found


def set_padding_mode(model: nn.Module, mode: str) -> None:
    """Switch every :class:`Pad` inside ``model`` to ``mode`` (one of :data:`PAD_MODES`)."""
    if mode not in PAD_MODES:
        raise ValueError(f"unknown padding mode {mode!r}")
    for m in pads(model):
        if m.mode != mode:
            m.mode = mode


def padding_mode(model: nn.Module) -> str:
    """The mode the :class:`Pad` modules of ``model`` are in ("zeros" when it has none)."""
    return next((m.mode for m in pads(model)), "zeros")


def _pair(v) -> Tuple[int, int]:
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def _pad_amounts(kernel, stride, padding) -> List[int]:
    """(left, right, top, bottom) keeping the output at ``input / stride`` for inputs that are multiples of it."""
    k, s, p = _pair(kernel), _pair(stride or kernel), _pair(padding)
    amounts = []
    for axis in (1, 0):  # width first, then height, as F.pad wants
        before = p[axis] if p[axis] > 0 else (k[axis] - s[axis]) // 2
        amounts += [before, max(k[axis] - s[axis] - before, 0)]
    return amounts


def make_padding_explicit(module: nn.Module) -> None:
    """Replace the implicit padding of every conv and pool in ``module`` by a :class:`Pad` in front of it.

    The amounts keep the output at exactly ``input / stride`` for inputs that are
    a multiple of the stride (ceil-mode pools become an extra right/bottom pad).
    """
    for name, child in list(module.named_children()):
        if isinstance(child, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
            pads = _pad_amounts(child.kernel_size, child.stride, child.padding)
            fill = -math.inf if isinstance(child, nn.MaxPool2d) else 0.0
            if isinstance(child, nn.Conv2d):
                child.padding = (0, 0)
            else:
                child.padding = 0
                child.ceil_mode = False
                if isinstance(child, nn.AvgPool2d):
                    child.count_include_pad = True
            if any(pads):
                setattr(module, name, PaddedLayer(Pad(*pads, fill=fill), child))
        else:
            make_padding_explicit(child)


class FunctionalPools:
    """Stands in for ``torch.nn.functional`` inside a torchvision module whose forward pools functionally.

    Inception v3's blocks call ``F.avg_pool2d(..., padding=1)`` and
    ``F.max_pool2d(x, 3, 2)`` in code, where no module can be swapped; these
    two go through a :class:`Pad` in the backbone's current mode instead.
    """

    def __init__(self, mode: str):
        self.mode = mode

    def __getattr__(self, name):
        return getattr(F, name)

    def _pad(self, x, kernel_size, stride, padding, fill):
        pad = Pad(*_pad_amounts(kernel_size, stride, padding), fill=fill)
        pad.mode = self.mode
        return pad(x), _pair(kernel_size), _pair(stride or kernel_size)

    def avg_pool2d(self, x, kernel_size, stride=None, padding=0, **kwargs):
        x, k, s = self._pad(x, kernel_size, stride, padding, 0.0)
        return F.avg_pool2d(x, k, s, 0)

    def max_pool2d(self, x, kernel_size, stride=None, padding=0, **kwargs):
        x, k, s = self._pad(x, kernel_size, stride, padding, -math.inf)
        return F.max_pool2d(x, k, s, 0)
