"""``hallucinator inspect``: the seam and pole figures of a dreamed panorama against its source."""
from __future__ import annotations

import argparse
import json

from ..errors import UserError


def cmd_inspect(args: argparse.Namespace) -> int:
    from .. import quality
    from ..io.images import read_image

    src = read_image(args.source)
    dream = read_image(args.dream)
    if src.shape != dream.shape:
        raise UserError(f"{args.source} is {src.shape[1]}x{src.shape[0]} but {args.dream} is "
                        f"{dream.shape[1]}x{dream.shape[0]}; compare a dream with its own source")
    if abs(src.shape[1] - 2 * src.shape[0]) > 1:
        raise UserError(f"{args.source} is not a 2:1 panorama; the seam and pole figures need one")
    figures = quality.inspect(src, dream)
    if args.json:
        print(json.dumps(figures))
    else:
        print(quality.format_report(figures))
    return 0


def register(sub) -> None:
    p = sub.add_parser("inspect", help="seam and pole figures of a dreamed panorama against its source")
    p.add_argument("source")
    p.add_argument("dream")
    p.add_argument("--json", action="store_true", help="one machine-readable line")
    p.set_defaults(func=cmd_inspect)
