"""The student network: a frame in, its dream residual out, one forward pass, seeing the sphere as the engine does.

* Every 3x3 convolution pads like the engine's ``"sphere"`` mode (:func:`hallucinator.sphere.pad_sphere`):
  longitude circular, and beyond the top and bottom rows the sphere continues over the pole (the row half a
  turn away).  Written with plain slices and concatenations only, so it exports to ONNX with dynamic sizes.
* The latitude of each row is an input (two channels: sin and cos of the latitude), made inside the network
  from the input's height, so the student can learn what the engine does near the poles.
* No normalisation layers (InstanceNorm made such a net about 2.5x slower in ONNX Runtime); ReLU.
* Three stride-2 convolutions down (channels ``widths``), residual blocks at 1/8 size, three nearest-neighbour
  enlargements with additive skips from the encoder, a linear 3-channel output (the residual, 1.0 = full scale).
  With a width that is a multiple of :data:`ALIGN`, rolling the input in longitude by a multiple of 8 columns
  rolls the output exactly (tested).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Dict, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

ALIGN = 16  # input height and width are multiples of this (three stride-2 levels, and an even width at 1/8)


@dataclass(frozen=True)
class NetSpec:
    """The student's architecture (recorded in the model card)."""

    widths: Tuple[int, int, int] = (12, 24, 48)  # channels at 1/2, 1/4, 1/8 of the input size
    stem: int = 8                                # channels of the full-size stem convolution
    blocks: int = 4                              # residual blocks at 1/8 size
    out_scale: float = 0.1                       # the output convolution's result is multiplied by this

    def to_dict(self) -> Dict:
        d = asdict(self)
        d["widths"] = list(self.widths)
        d.update(kind="sphere-unet", padding="sphere (longitude circular, rows over the pole)",
                 inputs="RGB in [0, 1] + sin/cos latitude", activation="relu", normalisation="none",
                 down="3x conv3x3 stride 2", up="3x nearest x2 + conv3x3, additive skips", align=ALIGN)
        return d

    @classmethod
    def from_dict(cls, d: Dict) -> "NetSpec":
        return cls(widths=tuple(d.get("widths", cls.widths)), stem=int(d.get("stem", cls.stem)),
                   blocks=int(d.get("blocks", cls.blocks)), out_scale=float(d.get("out_scale", cls.out_scale)))


def sphere_pad1(x: torch.Tensor) -> torch.Tensor:
    """Pad (N, C, H, W) by one pixel the way the sphere continues (as ``sphere.pad_sphere(x, 1, 1, 1, 1)``).

    Beyond the top row lies the top row half a turn away; beyond the bottom row the bottom row half a turn
    away; then longitude wraps.  Only slices and concatenations (ONNX-exportable with dynamic W).
    """
    half = x.shape[-1] // 2
    top = x[..., :1, :]
    bottom = x[..., -1:, :]
    top = torch.cat([top[..., half:], top[..., :half]], dim=-1)
    bottom = torch.cat([bottom[..., half:], bottom[..., :half]], dim=-1)
    x = torch.cat([top, x, bottom], dim=-2)
    return torch.cat([x[..., -1:], x, x[..., :1]], dim=-1)


class SphereConv(nn.Module):
    """3x3 convolution on the sphere: :func:`sphere_pad1`, then an unpadded convolution."""

    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, stride=stride, padding=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(sphere_pad1(x))


class ResBlock(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.a = SphereConv(c, c)
        self.b = SphereConv(c, c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.b(F.relu(self.a(x)))


def latitude_channels(x: torch.Tensor) -> torch.Tensor:
    """(N, 2, H, W): sin and cos of each row's latitude (row centres, as ``sphere.latitude_of_rows``)."""
    n, _, h, w = x.shape
    rows = torch.arange(h, dtype=x.dtype, device=x.device)
    lat = math.pi / 2 - (rows + 0.5) * (math.pi / h)
    lat = lat.reshape(1, 1, -1, 1)
    both = torch.cat([torch.sin(lat), torch.cos(lat)], dim=1)
    return both.expand(n, 2, h, w)


class StudentNet(nn.Module):
    """Frame (N, 3, H, W) in [0, 1] -> residual (N, 3, H, W); H and W multiples of :data:`ALIGN`."""

    def __init__(self, spec: NetSpec = NetSpec()):
        super().__init__()
        self.spec = spec
        c1, c2, c3 = spec.widths
        self.stem = SphereConv(5, spec.stem)
        self.down1 = SphereConv(spec.stem, c1, stride=2)
        self.down2 = SphereConv(c1, c2, stride=2)
        self.down3 = SphereConv(c2, c3, stride=2)
        self.blocks = nn.Sequential(*[ResBlock(c3) for _ in range(spec.blocks)])
        self.up3 = SphereConv(c3, c2)
        self.up2 = SphereConv(c2, c1)
        self.up1 = SphereConv(c1, spec.stem)
        self.out = SphereConv(spec.stem, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.cat([x * 2.0 - 1.0, latitude_channels(x)], dim=1)
        s0 = F.relu(self.stem(h))
        s1 = F.relu(self.down1(s0))
        s2 = F.relu(self.down2(s1))
        s3 = F.relu(self.down3(s2))
        y = self.blocks(s3)
        y = F.relu(self.up3(F.interpolate(y, scale_factor=2.0, mode="nearest"))) + s2
        y = F.relu(self.up2(F.interpolate(y, scale_factor=2.0, mode="nearest"))) + s1
        y = F.relu(self.up1(F.interpolate(y, scale_factor=2.0, mode="nearest"))) + s0
        return self.out(y) * self.spec.out_scale


def aligned_size(width: int, height: int) -> Tuple[int, int]:
    """The nearest (w, h) the net takes: multiples of :data:`ALIGN`, at least one :data:`ALIGN`."""
    def snap(v: int) -> int:
        return max(int(round(v / ALIGN)) * ALIGN, ALIGN)

    return snap(width), snap(height)
