"""``hallucinator inspect``: the seam and pole figures of a dreamed panorama against its source; for videos the
temporal figure in views up, down and around the horizon (:mod:`hallucinator.video.view_figures`)."""
from __future__ import annotations

import argparse
import json
import os

from ..errors import UserError


def cmd_inspect(args: argparse.Namespace) -> int:
    from ..io.probe import is_video

    # a folder as the dream: the --png-dir frames of a dreamed video (the dream before any codec)
    videos = [is_video(args.source), is_video(args.dream) or os.path.isdir(args.dream)]
    if any(videos):
        if not all(videos):
            raise UserError(f"compare a video with a video and a still with a still: {args.source} and "
                            f"{args.dream} differ")
        return _inspect_video(args)
    if args.start is not None:
        raise UserError("--start applies to videos only; drop it for stills")
    return _inspect_still(args)


def _inspect_still(args: argparse.Namespace) -> int:
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
    print(json.dumps(figures) if args.json else quality.format_report(figures))
    return 0


def _inspect_video(args: argparse.Namespace) -> int:
    from ..video import view_figures

    if not os.path.isfile(args.source):
        raise UserError(f"{args.source} not found; give the source video and the dream made from it")
    if not (os.path.isfile(args.dream) or os.path.isdir(args.dream)):
        raise UserError(f"{args.dream} not found; give the dream video (or its --png-dir folder) made from "
                        f"{args.source}")
    if args.start is not None and args.start < 0:
        raise UserError(f"--start {args.start} is negative; give the source frame the dream starts at")
    figure = view_figures.video_figure(args.source, args.dream, start=args.start)
    print(json.dumps(figure) if args.json else view_figures.format_report(figure))
    return 0


def register(sub) -> None:
    p = sub.add_parser("inspect", help="seam and pole figures of a dreamed panorama against its source; for "
                                       "videos, what the dream adds to frame-to-frame change up, down and around")
    p.add_argument("source", help="the input the dream was made from (the original file, not the --control "
                                  "output, whose own encoding would count as the source's)")
    p.add_argument("dream", help="the dreamed panorama, video or --png-dir folder")
    p.add_argument("--start", type=int, default=None, metavar="N",
                   help="videos: the source frame the dream's first frame was made from (default: from the "
                        "dream's .json sidecar, else 0)")
    p.add_argument("--json", action="store_true", help="one machine-readable line")
    p.set_defaults(func=cmd_inspect)
