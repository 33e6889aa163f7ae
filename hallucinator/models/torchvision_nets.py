"""torchvision's GoogLeNet, VGG16 and Inception v3 as backbones: explicit padding, layers taken by hooks.

Each registry layer name is found in the torchvision module tree by
:func:`module_path`; activations are read with forward hooks, and the forward
pass stops after the deepest wanted layer.  Logits are computed per position
from the pooled features' input, so tiles and bands add up like the whole
image.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from .padding import FunctionalPools, make_padding_explicit, padding_mode
from .registry import VGG16_CONFIG, ModelSpec


@dataclass(frozen=True)
class Recipe:
    """How to build one torchvision net and where its classifier sits."""

    builder: str                                   # torchvision.models function
    kwargs: Dict[str, Any] = field(default_factory=dict)
    fc: Optional[str] = None                       # the final Linear, for "logits"
    pool: Optional[str] = None                     # the global pool whose input feeds the Linear
    functional_module: Optional[str] = None        # a torchvision module that pools with F.* calls


_INCEPTION_KWARGS = {"aux_logits": False, "init_weights": False, "transform_input": True}
RECIPES: Dict[str, Recipe] = {
    "googlenet": Recipe("googlenet", _INCEPTION_KWARGS, fc="fc", pool="avgpool"),
    "vgg16": Recipe("vgg16"),
    "inception_v3": Recipe("inception_v3", _INCEPTION_KWARGS, fc="fc", pool="avgpool",
                           functional_module="torchvision.models.inception"),
}


def _vgg16_paths() -> Dict[str, str]:
    paths, block, conv, idx = {}, 1, 1, 0
    for v in VGG16_CONFIG:
        if v == "M":
            paths[f"pool{block}"] = f"features.{idx}"
            block, conv, idx = block + 1, 1, idx + 1
        else:
            paths[f"conv{block}_{conv}"] = f"features.{idx}"
            paths[f"relu{block}_{conv}"] = f"features.{idx + 1}"
            conv, idx = conv + 1, idx + 2
    return paths


def module_path(model: str, layer: str) -> str:
    """Where the registry's ``layer`` of ``model`` sits in torchvision's module tree ("features.22" ...)."""
    if model == "googlenet":
        return layer.replace(".pool", ".branch4.0")  # the 3x3 max pool of the fourth branch
    if model == "vgg16":
        return _vgg16_paths()[layer]
    parts = layer.split("_", 2)  # inception_v3: mixed_5d -> Mixed_5d, conv2d_1a_3x3 -> Conv2d_1a_3x3
    return layer if layer.startswith("maxpool") else "_".join([parts[0].capitalize(), *parts[1:]])


class _Stop(Exception):
    pass


class TorchvisionBackbone(nn.Module):
    """A torchvision classifier whose named sub-modules are the dreamable layers."""

    def __init__(self, spec: ModelSpec, net: nn.Module):
        super().__init__()
        self.net = net
        self.recipe = RECIPES[spec.name]
        self.paths = {layer: module_path(spec.name, layer) for layer in spec.layers if layer != "logits"}
        make_padding_explicit(self.net)

    def _module(self, path: str) -> nn.Module:
        m = self.net
        for part in path.split("."):
            m = m[int(part)] if part.isdigit() else getattr(m, part)
        return m

    def forward(self, x: torch.Tensor, layers: Sequence[str]) -> Dict[str, torch.Tensor]:
        out: Dict[str, torch.Tensor] = {}
        wanted = [l for l in layers if l != "logits"]

        def grab(name):
            def hook(_m, _i, o):
                out[name] = o
                if len(out) == len(wanted) and "logits" not in layers:
                    raise _Stop
            return hook

        hooks = [self._module(self.paths[name]).register_forward_hook(grab(name)) for name in wanted]
        patched = None
        if self.recipe.functional_module:
            patched = importlib.import_module(self.recipe.functional_module)
            patched.F = FunctionalPools(padding_mode(self.net))
        try:
            if "logits" in layers:
                feats = self._features_for_logits(x)
                fc = self._module(self.recipe.fc)
                out["logits"] = torch.einsum("nchw,kc->nkhw", feats, fc.weight) + fc.bias[None, :, None, None]
            else:
                self.net(x)
        except _Stop:
            pass
        finally:
            for h in hooks:
                h.remove()
            if patched is not None:
                patched.F = F
        return out

    def _features_for_logits(self, x):
        feats = {}
        pool = self._module(self.recipe.pool)
        h = pool.register_forward_pre_hook(lambda _m, i: feats.setdefault("f", i[0]))
        try:
            self.net(x)
        finally:
            h.remove()
        return feats["f"]

    def fold_batchnorm(self) -> None:  # torchvision's BasicConv2d keeps BN; folding is an optimisation only
        pass


def build(spec: ModelSpec) -> nn.Module:
    """torchvision's ``spec.name`` with random weights (load a state dict into it, then wrap it)."""
    import torchvision.models as tvm

    recipe = RECIPES[spec.name]
    return getattr(tvm, recipe.builder)(weights=None, **recipe.kwargs)
