"""What the dream maximises: the named layers' activations turned into one scalar, a sum over positions.

Because the objective sums over positions, a pixel's gradient does not depend
on how large the pass was: the band, the polar views and the tiles are on one
scale.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Dict

import torch
import torch.nn.functional as F

from .. import sphere
from ..config import DreamConfig
from ..errors import UserError
from .identity import objective_layers

if TYPE_CHECKING:
    from ..models import Backbone


class Objective:
    """Turns the named activations into a scalar to maximise (a sum over positions)."""

    def __init__(self, cfg: DreamConfig, net: "Backbone", device: torch.device):
        self.kind = cfg.objective
        self.layers = objective_layers(cfg)
        self.channels = list(cfg.channels)
        self.class_index = cfg.class_index
        self.guide_features: Dict[str, torch.Tensor] = {}
        if self.kind == "class":
            if "logits" not in net.layer_names():
                raise UserError(f"{net.name} has no class logits here; use another objective or model")
            if not 0 <= int(self.class_index) < 1000:
                raise UserError("--class-index must be an ImageNet class number, 0-999")
        if self.kind == "guide":
            self.guide_features = self._guide_features(cfg.guide, net, device)

    def _guide_features(self, path: str, net: "Backbone", device: torch.device) -> Dict[str, torch.Tensor]:
        """The guide image's features (C, M) at each layer, seen at 224 px on its short side."""
        from ..io.images import read_image

        guide = sphere.to_tensor(read_image(path)).to(device)
        scale = 224 / min(guide.shape[-2:])
        guide = F.interpolate(guide, scale_factor=scale, mode="bilinear", antialias=True, align_corners=False)
        net.set_padding("zeros")
        with torch.no_grad():
            acts = net(guide, self.layers)
        return {k: v[0].flatten(1) for k, v in acts.items()}

    def __call__(self, acts: Dict[str, torch.Tensor]) -> torch.Tensor:
        total = 0.0
        for name, a in acts.items():
            if self.kind == "l2":
                total = total + a.pow(2).sum() / a.shape[1]
            elif self.kind == "channels":
                idx = [c for c in self.channels if c < a.shape[1]]
                if len(idx) != len(self.channels):
                    raise UserError(f"layer {name} has {a.shape[1]} channels; --channels must be below that")
                total = total + a[:, idx].pow(2).sum() / len(idx)
            elif self.kind == "class":
                total = total + a[:, int(self.class_index)].sum()
            else:  # guide: pull each position towards its best-matching guide feature
                g = self.guide_features[name]
                x = a[0].flatten(1)
                best = (x.t() @ g).argmax(dim=1)
                total = total + (x * g[:, best].detach()).sum() / a.shape[1]
        return total
