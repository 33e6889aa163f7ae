"""``hallucinator experiment ...``: run, resume, validate, list orders, analyse."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import UserError

MIN_WINDOW = 64      # pixels a side of the session window


def _stim(text: str):
    key, sep, value = text.partition("=")
    if not sep or not key or not value:
        raise argparse.ArgumentTypeError(f"--stim {text!r}: write NAME.KIND=PATH, e.g. campus.dream=my_dream.mp4")
    return key, value


def register(sub) -> None:
    p = sub.add_parser("experiment", help="run counterbalanced lab sessions and analyse them",
                       description="Run control-vs-dream sessions from a protocol file, log them BIDS-style "
                                   "(with LSL markers), and analyse the results. See docs/experiments.md.")
    esub = p.add_subparsers(dest="experiment_command", metavar="ACTION")
    p.set_defaults(func=lambda args: p.print_help() or 2)

    r = esub.add_parser("run", help="run (or --resume) one participant's session")
    r.add_argument("protocol", metavar="PROTOCOL", help="protocol .toml, or a shipped one: demo, hm2017-exp1, "
                                                        "hm2017-exp2")
    r.add_argument("--participant", "-p", required=True, metavar="ID",
                   help="participant label, letters and digits ending in a number (that number picks the order)")
    r.add_argument("--session", "-s", default="01", metavar="S", help="session label (default 01)")
    r.add_argument("--data", default="data", type=Path, metavar="DIR", help="BIDS dataset folder (default ./data)")
    r.add_argument("--resume", action="store_true", help="continue an interrupted session at its next unfinished step")
    r.add_argument("--simulate", type=int, metavar="SEED",
                   help="a simulated participant (answers and head motion from SEED); data marked simulated")
    r.add_argument("--realtime", action="store_true",
                   help="with --simulate: play in real time in the window instead of not waiting")
    r.add_argument("--headless", action="store_true", help="no window (simulations; real time without display)")
    r.add_argument("--xr", action="store_true", help="show in an OpenXR headset")
    r.add_argument("--window", default="1280x720", metavar="WxH", help="window size (default 1280x720)")
    r.add_argument("--fullscreen", action="store_true", help="full screen on the primary monitor")
    r.add_argument("--stim", type=_stim, action="append", default=[], metavar="NAME.KIND=PATH",
                   help="use another file for a stimulus (KIND: control, dream, file or live), e.g. "
                        "campus.dream=out/dream.mp4 (repeatable)")
    r.add_argument("--no-lsl", action="store_true", help="do not open LSL outlets")
    r.set_defaults(func=cmd_run)

    v = esub.add_parser("validate", help="check a protocol (and its questionnaires and stimulus files)")
    v.add_argument("protocol", metavar="PROTOCOL")
    v.add_argument("--stim", type=_stim, action="append", default=[], metavar="NAME.KIND=PATH")
    v.add_argument("--no-files", action="store_true", help="do not require the stimulus files to exist")
    v.set_defaults(func=cmd_validate)

    o = esub.add_parser("orders", help="print the condition order of participants 1..N and the balance")
    o.add_argument("protocol", metavar="PROTOCOL")
    o.add_argument("n", type=int, metavar="N")
    o.set_defaults(func=cmd_orders)

    a = esub.add_parser("analyze", aliases=["analyse"], help="tables and figures from a BIDS data folder")
    a.add_argument("data", type=Path, metavar="DATA_DIR")
    a.add_argument("--out", type=Path, metavar="DIR", help="output folder (default DATA_DIR/derivatives/hallucinator)")
    a.add_argument("--include-simulated", choices=("auto", "yes", "no"), default="auto",
                   help="use simulated sessions: auto (only if no real ones), yes, no")
    a.set_defaults(func=cmd_analyze)

    s = esub.add_parser("simulate-group", help="simulate N participants of a protocol (pilot the analysis)")
    s.add_argument("protocol", metavar="PROTOCOL")
    s.add_argument("n", type=int, metavar="N")
    s.add_argument("--data", type=Path, default=Path("data-simulated"), metavar="DIR")
    s.add_argument("--seed", type=int, default=1)
    s.set_defaults(func=cmd_simulate_group)


def cmd_run(args) -> int:
    from ..config import parse_size
    from ..experiment.runner import RunOptions, run_session
    if args.realtime and args.simulate is None:
        raise UserError("--realtime only applies to --simulate SEED (real participants always run in real time)")
    window = parse_size(args.window, "--window")
    if min(window) < MIN_WINDOW:
        raise UserError(f"--window {args.window}: a window needs at least {MIN_WINDOW} pixels a side, e.g. 1280x720")
    opts = RunOptions(args.protocol, args.participant, args.session, args.data, args.resume, args.simulate,
                      True if args.realtime else None, args.headless, args.xr, window, args.fullscreen,
                      dict(args.stim), False if args.no_lsl else None)
    run_session(opts)
    return 0


def cmd_validate(args) -> int:
    from ..experiment.protocol import load_protocol
    p = load_protocol(args.protocol)
    for k, v in args.stim:
        p.override_stimulus(k, v)
    print(f"{p.path}: protocol {p.name!r} ({p.title})")
    conds = []
    for c in p.conditions.values():
        conds.append(f"{c.name} (dose {c.dose:g}" + (", timeline)" if c.timeline else ")"))
    print("  conditions: " + ", ".join(conds))
    print(f"  counterbalancing: {p.scheme} over {', '.join(p.order_conditions)}")
    steps = p.schedule(p.order_for(1)[1])
    total = sum(float(s.params.get("duration", 0)) for s in steps if s.kind in ("stimulus", "rest"))
    print(f"  {len(steps)} steps per participant; {total / 60:.1f} min of video and rest")
    for name, q in p.questionnaires.items():
        print(f"  questionnaire {q.name}: {len(q.items)} items, {len(q.dimensions)} dimensions"
              + (" (item texts to be supplied)" if q.needs_texts else ""))
    for w in p.warnings:
        print(f"  warning: {w}")
    if not args.no_files:
        p.check_files()
        print("  stimulus files: present")
    print("ok")
    return 0


def cmd_orders(args) -> int:
    from ..experiment.counterbalance import carryover_counts, position_counts
    from ..experiment.protocol import load_protocol
    if args.n < 1:
        raise UserError("N must be at least 1")
    p = load_protocol(args.protocol, load_questionnaires=False)
    orders = []
    for n in range(1, args.n + 1):
        idx, order = p.order_for(n)
        orders.append(order)
        print(f"participant {n:3d}  row {idx}  {' -> '.join(order)}")
    print("position counts:")
    for c, counts in position_counts(orders).items():
        print(f"  {c:>12}: {counts}")
    print(f"carry-over pairs: {dict(sorted(carryover_counts(orders).items()))}")
    return 0


def cmd_analyze(args) -> int:
    from ..experiment.analysis import analyze
    out = analyze(args.data, args.out, include_simulated=args.include_simulated, console=sys.stdout)
    print(f"tables and figures in {out}")
    return 0


def cmd_simulate_group(args) -> int:
    from ..experiment.runner import RunOptions, run_session
    for n in range(1, args.n + 1):
        run_session(RunOptions(args.protocol, f"{n:02d}", "01", args.data, simulate=args.seed, console=None))
    print(f"{args.n} simulated participants in {args.data}")
    return 0
