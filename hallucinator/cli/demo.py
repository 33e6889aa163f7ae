"""``hallucinator demo``: compose a panorama from bundled photos, dream it, and dream the demo clip."""
from __future__ import annotations

import argparse
from pathlib import Path

from .dream import dream_image_file
from .video import run_demo


def cmd_demo(args: argparse.Namespace) -> int:
    from ..config import DreamConfig
    from ..demo import demo_panorama
    from ..io.images import write_image

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    pano_path = out / "panorama.png"
    write_image(str(pano_path), demo_panorama(args.width))
    print(f"wrote {pano_path} (composed from scikit-image's sample photos)")
    cfg = DreamConfig(seed=args.seed, device=args.device)
    dream_path = out / "dream.png"
    sidecar = dream_image_file(str(pano_path), str(dream_path), cfg)
    q = sidecar["quality"]
    print(f"wrote {dream_path} and its .json sidecar in {sidecar['timings_s']['dream']:.1f}s: seam "
          f"{q['seam_ratio']:.2f}, pole/horizon coherence {q['pole_horizon_coherence_ratio']:.2f}, "
          f"tangential bias excess {q['tangential_bias_excess']:+.2f}")
    if not args.no_video:
        run_demo(out, seed=args.seed, device=args.device)
    return 0


def register(sub) -> None:
    p = sub.add_parser("demo", help="compose a panorama from bundled photos and dream it (no downloads)")
    p.add_argument("--out", default="demo-out", help="output folder (default demo-out)")
    p.add_argument("--width", type=int, default=1024, help="panorama width (default 1024)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--no-video", action="store_true", help="only the still panorama")
    p.set_defaults(func=cmd_demo)
