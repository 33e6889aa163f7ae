"""``hallucinator models``: the registered backbones, their layers, and whether their weights are here."""
from __future__ import annotations

import argparse
import json
from typing import Any, Dict, List


def model_rows() -> List[Dict[str, Any]]:
    """One row per registered model, as ``models --json`` prints them."""
    from ..models import MODELS
    from ..models.loading import weights_path
    from ..resources import resource_dir

    cards_dir = resource_dir("models")
    rows = []
    for name, spec in MODELS.items():
        path = weights_path(name)
        rows.append({"name": name, "description": spec.description, "weights": str(path) if path else None,
                     "available": path is not None, "default_layer": spec.default_layer,
                     "recommended_layers": list(spec.recommended_layers), "layers": list(spec.layers),
                     "licence": spec.licence, "card": str(cards_dir / f"{name}.toml")})
    return rows


def _print_rows(rows: List[Dict[str, Any]], layers: bool) -> None:
    from ..models import MODELS
    from ..models.loading import hub_weights_path

    for r in rows:
        status = "available" if r["available"] else "weights missing"
        print(f"{r['name']:20s} {status:16s} {r['description']}")
        print(f"{'':20s} default layer {r['default_layer']}; recommended {', '.join(r['recommended_layers'])}")
        if layers:
            print(f"{'':20s} layers: {', '.join(r['layers'])}")
        if not r["available"]:
            print(f"{'':20s} get them: run torchvision.models.{r['name']}(weights='DEFAULT') once with internet "
                  f"(saves {hub_weights_path(MODELS[r['name']])}) or pass --weights PATH")


def cmd_models(args: argparse.Namespace) -> int:
    if args.write_cards:
        from ..models.cards import write_cards

        for path in write_cards(args.write_cards):
            print(f"wrote {path}")
        return 0
    rows = model_rows()
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        _print_rows(rows, args.layers)
    return 0


def register(sub) -> None:
    p = sub.add_parser("models", help="list backbones, their layers and whether weights are available")
    p.add_argument("--layers", action="store_true", help="list every dreamable layer")
    p.add_argument("--json", action="store_true")
    p.add_argument("--write-cards", metavar="DIR",
                   help="write the model cards (NAME.toml) from the registry into DIR, e.g. models")
    p.set_defaults(func=cmd_models)
