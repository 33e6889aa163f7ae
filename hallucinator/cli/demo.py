"""``hallucinator demo``: compose a panorama from bundled photos, dream it, and dream the demo clip.

It checks what it made against the project's targets and says so: every figure it checks, and for each
one it misses, one line naming it and by how much.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from .dream import dream_image_file


def cmd_demo(args: argparse.Namespace) -> int:
    from .. import quality
    from ..config import DreamConfig
    from ..demo import demo_panorama, target_lines
    from ..io.images import write_image

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    pano_path = out / "panorama.png"
    write_image(str(pano_path), demo_panorama(args.width))
    print(f"wrote {pano_path} (composed from scikit-image's sample photos)")
    cfg = DreamConfig(seed=args.seed, device=args.device)
    dream_path = out / "dream.png"
    sidecar = dream_image_file(str(pano_path), str(dream_path), cfg)
    print(f"wrote {dream_path} and its .json sidecar in {sidecar['timings_s']['dream']:.1f}s")
    lines, misses = target_lines("still", sidecar["quality"], quality.LIMITS)
    if not args.no_video:
        more, missed = _demo_clip(out, args)
        lines, misses = lines + more, misses + missed
    print("targets:\n" + "\n".join(lines))
    print("\n".join(misses) if misses else "every target met")
    return 0


def _demo_clip(out: Path, args: argparse.Namespace):
    """Dream the demo clip; (target lines, misses) of its seam/pole figures and its view-space figure."""
    from .. import quality
    from ..demo import target_lines
    from ..video import view_figures
    from ..video.run import demo_video
    from .video import summary

    result = demo_video(out, seed=args.seed, device=args.device)
    print(summary(result))
    sphere = {k: result.quality[f"{k}_mean"] for k in quality.LIMITS if f"{k}_mean" in result.quality}
    lines, misses = target_lines("clip", sphere, quality.LIMITS)
    source = json.loads(Path(result.sidecar).read_text())["input"]
    views = view_figures.video_figure(source, result.output)
    more, missed = target_lines("clip", views, view_figures.LIMITS)
    return lines + more, misses + missed


def register(sub) -> None:
    p = sub.add_parser("demo", help="compose a panorama from bundled photos and dream it (no downloads)")
    p.add_argument("--out", default="demo-out", help="output folder (default demo-out)")
    p.add_argument("--width", type=int, default=1024, help="panorama width (default 1024)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--no-video", action="store_true", help="only the still panorama")
    p.set_defaults(func=cmd_demo)
