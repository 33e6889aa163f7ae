"""The engine's own objective on the student's dream: a perceptual term for feed-forward DeepDream.

Regressing the teacher's residuals teaches the student their mean over seeds, which has the dream's colour
shift but not its patterns.  This term asks instead what the engine asks: that the teacher's layer (the
default settings: EfficientNet-Lite2, ``block12``, the ``l2`` objective, :mod:`hallucinator.engine.objectives`)
respond strongly to the dreamed picture.  The student's residual is first rescaled, picture by picture, to a
fixed strength (the teacher's mean absolute residual on the batch), as the engine's step rule fixes the step
size, so the term rewards where the patterns go and what they are, not how strong they are.  The backbone
pads with ``"wrap"`` (longitude wraps), as on a panorama band.

The value is minus the objective per input pixel (lower is better, like the other terms).
"""
from __future__ import annotations

import torch

from ..config import DreamConfig
from ..engine.objectives import Objective
from ..models import load_backbone

PADDING = "wrap"


class DreamObjective:
    """``term(x, pred, y)``: minus the teacher's objective on ``x + pred`` rescaled to ``y``'s strength."""

    def __init__(self, cfg: DreamConfig = None, random_weights: bool = False):
        self.cfg = cfg or DreamConfig(device="cpu")
        self.net = load_backbone(self.cfg.model, weights=self.cfg.weights, random_init=random_weights)
        self.net.set_padding(PADDING)
        self.objective = Objective(self.cfg, self.net, torch.device("cpu"))
        self.layers = list(self.objective.layers)

    def describe(self) -> dict:
        return {"model": self.cfg.model, "layers": self.layers, "objective": self.cfg.objective,
                "padding": PADDING, "weights_sha256": self.net.weights_sha256}

    def dreamed(self, x: torch.Tensor, pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``x + pred`` with each picture's residual rescaled to the teacher's mean strength on the batch."""
        target = y.abs().mean().detach()
        scale = target / pred.abs().mean(dim=(1, 2, 3), keepdim=True).clamp_min(1e-8)
        return x + pred * scale

    def __call__(self, x: torch.Tensor, pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        img = self.dreamed(x, pred, y)
        value = self.objective(self.net(img, self.layers))
        return -value / float(x.shape[0] * x.shape[-2] * x.shape[-1])
