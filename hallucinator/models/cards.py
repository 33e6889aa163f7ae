"""The model cards in the project's ``models/*.toml``: written from the registry, never edited by hand.

``hallucinator models --write-cards models`` rewrites them after a change to
:mod:`.registry`; a test checks that the committed cards are what this module
writes.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List

from ..atomic import atomic_write_text
from .registry import MODELS, ModelSpec


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)  # a JSON string is a TOML basic string
    items = [_value(x) for x in v]
    return "[" + ", ".join(items) + "]"


def _key(k: str) -> str:
    return k if k.replace("_", "").replace("-", "").isalnum() else json.dumps(k)


def _lines(table: Dict[str, Any]) -> List[str]:
    return [f"{_key(k)} = {_value(v)}" for k, v in table.items()]


def _weights_table(spec: ModelSpec) -> Dict[str, Any]:
    w = spec.weights
    if w.offline:
        return {"package": w.package, "version": w.version, "offline": True}
    return {"torchvision": w.torchvision, "url": w.url, "offline": False,
            "where": "torch hub cache (~/.cache/torch/hub/checkpoints) after torchvision downloads them once, "
                     "or --weights PATH"}


def card_toml(spec: ModelSpec) -> str:
    """The model card of ``spec`` as TOML text."""
    top = {"name": spec.name, "description": spec.description, "family": spec.family, "source": spec.source,
           "licence": spec.licence, "activation": spec.activation, "default_layer": spec.default_layer,
           "recommended_layers": list(spec.recommended_layers), "min_input_size": spec.min_size,
           "input_size_trained": spec.input_size_trained}
    if spec.notes:
        top["notes"] = spec.notes
    sections = [
        [f"# Model card: {spec.name} (written by `hallucinator models --write-cards`; edit "
         "hallucinator/models/registry.py instead)", *_lines(top)],
        ["[weights]", *_lines(_weights_table(spec))],
        ["[normalisation]", 'formula = "(x - mean) / std, x = RGB in [0, 1]"',
         *_lines({"mean_rgb01": list(spec.mean), "std_rgb01": list(spec.std)})],
        ["# dreamable layers in network order, with the total stride at each", "[layers]",
         *_lines(spec.layers)],
    ]
    if spec.looks:
        sections.append([f"# what each layer dreams, from the contact sheet {spec.contact_sheet} "
                         "(`hallucinator models --contact-sheet`)", "[looks]", *_lines(spec.looks)])
    return "\n\n".join("\n".join(s) for s in sections) + "\n"


def write_cards(folder: str) -> List[Path]:
    """Write one ``NAME.toml`` card per registered model into ``folder``; returns the paths."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for spec in MODELS.values():
        path = out / f"{spec.name}.toml"
        atomic_write_text(path, card_toml(spec))
        paths.append(path)
    return paths
