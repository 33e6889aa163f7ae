"""``hallucinator distill``: train a student network from the engine's dreams (see docs/student.md).

With no inputs it learns from the shared panoramas and videos and the demo panorama, holding out two
panoramas and one video; run again, it resumes (cached teacher dreams, the last training checkpoint).
"""
from __future__ import annotations

import argparse
import shlex
import sys

from ..config import parse_size
from ..errors import UserError

DEFAULT_OUT = "models/student-lite2-block12.onnx"


def cmd_distill(args: argparse.Namespace) -> int:
    from ..student.distill import HELDOUT, DistillOptions, run
    from ..student.net import NetSpec
    from ..student.train import TrainOptions
    from pathlib import Path

    w, h = parse_size(args.size)
    if w % 16 or h % 16 or w != 2 * h:
        raise UserError(f"--size {args.size}: use a 2:1 size whose sides are multiples of 16, e.g. 512x256")
    for name, v in (("--steps", args.steps), ("--jobs", args.jobs), ("--batch", args.batch),
                    ("--per-panorama", args.per_panorama), ("--per-video", args.per_video)):
        if v < 1:
            raise UserError(f"{name} must be at least 1, not {v}")
    extra = {} if args.objective_weight is None else {"objective_weight": args.objective_weight}
    if args.objective_weight is not None and args.objective_weight < 0:
        raise UserError(f"--objective-weight must not be negative, not {args.objective_weight}")
    if args.init is not None and not Path(args.init).is_file():
        raise UserError(f"--init {args.init}: no such checkpoint; give a train-*.pt file from a distill cache")
    if args.figure:   # checked now, not after the training
        from ..io.images import WRITABLE_SUFFIXES, check_writable

        check_writable(args.figure)
        if Path(args.figure).suffix.lower() not in WRITABLE_SUFFIXES:
            raise UserError(f"--figure {args.figure} is not an image name; give e.g. student-vs-teacher.jpg")
    widths = tuple(int(v) for v in args.widths.split(","))
    if len(widths) != 3:
        raise UserError(f"--widths {args.widths!r}: give three channel counts, e.g. 12,24,48")
    opts = DistillOptions(
        out=args.out, inputs=list(args.inputs), heldout=tuple(args.heldout) if args.heldout else HELDOUT,
        size=(w, h), cache=args.cache, per_panorama=args.per_panorama, per_video=args.per_video, jobs=args.jobs,
        threads=args.global_threads or 1, spec=NetSpec(widths=widths, blocks=args.blocks),
        train=TrainOptions(steps=args.steps, batch=args.batch, lr=args.lr, corr_weight=args.corr_weight,
                           init=args.init, **extra),
        figure=args.figure, fresh=args.fresh, command="hallucinator " + " ".join(shlex.quote(a) for a in sys.argv[1:]))
    card = run(opts)
    verdicts = card["figures"]["heldout_panoramas"].get("verdicts", {})
    missed = [k for k, ok in verdicts.items() if not ok]
    print(f"wrote {args.out}; held-out targets " + ("all met" if not missed else "missed: " + ", ".join(missed)))
    return 0


def register(sub) -> None:
    p = sub.add_parser("distill", help="train a fast student network from the engine's dreams (ONNX)",
                       description="Distil the engine (default settings) into a feed-forward student: teacher "
                                   "dreams cached, training checkpointed (run again to resume), ONNX and card out.")
    p.add_argument("inputs", nargs="*", metavar="INPUT",
                   help="panoramas and 360° videos (default: the shared data and the demo panorama)")
    p.add_argument("--out", default=DEFAULT_OUT, help=f"the student's ONNX file (default {DEFAULT_OUT}); its card "
                                                      "is written beside it as .json")
    p.add_argument("--size", default="512x256", help="training size WxH (default 512x256)")
    p.add_argument("--steps", type=int, default=2000,
                   help="training steps (default 2000; run again with more to continue)")
    p.add_argument("--batch", type=int, default=4, help="pictures per step (default 4)")
    p.add_argument("--lr", type=float, default=2e-3, help="Adam's learning rate, decayed by a cosine")
    p.add_argument("--corr-weight", type=float, default=0.5,
                   help="weight of the loss term 1 - correlation of the blurred residuals (default 0.5)")
    p.add_argument("--objective-weight", type=float,
                   help="weight of the engine's own objective on the student's dream, its residual rescaled to "
                        "the teacher's strength (default: the shipped student's, docs/student.md; 0: off)")
    p.add_argument("--init", metavar="CHECKPOINT",
                   help="start from the weights of an earlier run's checkpoint (a train-*.pt in its --cache)")
    p.add_argument("--widths", default="12,24,48", help="channels at 1/2, 1/4, 1/8 size (default 12,24,48)")
    p.add_argument("--blocks", type=int, default=4, help="residual blocks at 1/8 size (default 4)")
    p.add_argument("--per-panorama", type=int, default=32,
                   help="teacher dreams per training panorama (default 32)")
    p.add_argument("--per-video", type=int, default=64,
                   help="frames per training video, each eye of a stereo one (default 64)")
    p.add_argument("--heldout", action="append", metavar="NAME",
                   help="file name of an input kept out of training (repeat; default: two panoramas and the "
                        "three.js clip)")
    p.add_argument("--cache", default=".hallucinator-cache/distill", help="teacher dreams and checkpoints")
    p.add_argument("--jobs", type=int, default=1, help="teacher processes (each with --threads threads)")
    p.add_argument("--figure", metavar="JPG", help="write the student-vs-teacher picture of a held-out panorama")
    p.add_argument("--fresh", action="store_true", help="start training afresh (the teacher cache is kept)")
    p.set_defaults(func=cmd_distill)
