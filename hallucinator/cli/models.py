"""``hallucinator models``: the registered backbones, their layers, and whether their weights are here."""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Dict, List

from ..config import comma_names

# the two real panoramas of the embedded model's contact sheet (under the shared test data)
SHEET_PANORAMAS = ("panolens-cabin-1024.jpg", "aframe-puy-de-sancy.jpg")


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


def _contact_sheet(args: argparse.Namespace) -> int:
    from ..config import parse_size
    from ..errors import UserError
    from ..io.images import check_writable, is_image_path, write_image
    from ..models import get_spec
    from ..models.contact_sheet import SheetSpec, contact_sheet
    from ..video.run import shared_data_dir

    if not is_image_path(args.contact_sheet):
        raise UserError(f"--contact-sheet {args.contact_sheet} is not an image name; give e.g. sheet.jpg or sheet.png")
    check_writable(args.contact_sheet)      # before minutes of dreaming
    spec = get_spec(args.model)
    layers = args.sheet_layers or list(spec.recommended_layers)
    spec.check_layers(layers)
    images = args.images or [str(shared_data_dir() / "panoramas" / name) for name in SHEET_PANORAMAS]
    for path in images:
        if not Path(path).is_file():
            raise UserError(f"no panorama at {path}; give --images PANO [PANO ...]")
    sheet = contact_sheet(SheetSpec(model=args.model, layers=layers, images=images, size=parse_size(args.size),
                                    cell=args.cell, seed=args.seed),
                          progress=lambda what: print(f"dreaming {what}", flush=True))
    write_image(args.contact_sheet, sheet)
    print(f"wrote {args.contact_sheet}")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    if args.contact_sheet:
        return _contact_sheet(args)
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
    sheet = p.add_argument_group("contact sheet: what each layer dreams, in 90° views of real panoramas")
    sheet.add_argument("--contact-sheet", metavar="OUT.jpg", help="dream each layer and write the sheet here")
    sheet.add_argument("--model", default="efficientnet-lite2", help="backbone of the sheet")
    sheet.add_argument("--sheet-layers", type=comma_names, metavar="A,B,...",
                       help="layers to show (default: the model's recommended layers)")
    sheet.add_argument("--images", nargs="+", metavar="PANO", help="panoramas (default: two of the shared data)")
    sheet.add_argument("--size", default="1024x512", help="panorama size dreamed, WxH")
    sheet.add_argument("--cell", type=int, default=256, help="side of each view, pixels")
    sheet.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_models)
