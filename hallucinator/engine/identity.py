"""What names an engine's output in caches and sidecars, known from its configuration alone.

A :class:`~.dream.Dreamer` is identified by its configuration (less the device), the SHA-256 of its
weights and its octave alignment (twice the total stride at the dreamed layers).  All three are known
without building the network (:func:`engine_identity`), so a process that only names cache folders (the
driver of a scaled-out run) does not load a model for it; a loaded engine gives the same identity
(:attr:`Dreamer.identity`).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Dict, List, Optional

from ..config import DreamConfig
from ..provenance import short_hash


@dataclass(frozen=True)
class EngineIdentity:
    config: Dict[str, Any]       # the configuration, without the device
    weights_sha256: str
    align: int                   # octave widths are multiples of this

    def fingerprint(self) -> str:
        """Hash of everything that changes the dream's output (not the device)."""
        return short_hash(dict(self.config, weights_sha256=self.weights_sha256))

    def with_iterations(self, n: int) -> "EngineIdentity":
        """The same engine taking ``n`` gradient steps per octave (a video's warm engine)."""
        return replace(self, config=dict(self.config, iterations=n))

    def pyramid_key(self) -> str:
        """Hash of everything that decides the octave pyramid of a source."""
        d = {k: self.config[k] for k in ("octaves", "octave_scale", "flat")}
        d["align"] = self.align
        return short_hash(d)


def objective_layers(cfg: DreamConfig) -> List[str]:
    """The layers the objective reads: the configured ones, or the logits for a class objective."""
    return ["logits"] if cfg.objective == "class" else list(cfg.layers)


def octave_align(cfg: DreamConfig, stride: int) -> int:
    """Octave widths are multiples of this: twice the total stride, so W/stride is even (pole padding)."""
    return 1 if cfg.flat else 2 * stride


def identify(cfg: DreamConfig, weights_sha256: str, stride: int) -> EngineIdentity:
    config = cfg.to_dict()
    config.pop("device", None)
    return EngineIdentity(config, weights_sha256, octave_align(cfg, stride))


def engine_identity(cfg: DreamConfig) -> Optional[EngineIdentity]:
    """The identity a :class:`~.dream.Dreamer` built from ``cfg`` will have, without building it (the
    weights file is hashed); None where only the built engine can tell (a layer the model lacks: building
    it gives the error)."""
    from ..models import get_spec, weights_sha256

    spec = get_spec(cfg.validate().model)
    layers = objective_layers(cfg)
    if any(layer not in spec.layers for layer in layers):
        return None
    return identify(cfg, weights_sha256(spec.name, cfg.weights), max(spec.layers[l] for l in layers))
