"""The ``hallucinator`` command: one entry point with subcommands.

Each command module adds its own subcommands through a ``register(sub)``
function (and ``register_bench(bench_sub)`` for ``hallucinator bench ...``);
this file only wires them together and turns :class:`UserError` into a
one-line message and exit code 2.
"""
from __future__ import annotations

import argparse
import sys

from .. import __version__, threads
from ..errors import UserError


def _command_modules():
    """The modules that contribute subcommands, in the order they appear in --help."""
    from . import bench, demo, distill, dream, experiment, inspect, models, video, view

    # dream: images here, videos through cli.video; video: cache and bench video; view: view and bench viewer
    return (dream, distill, models, inspect, demo, bench, video, view, experiment)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hallucinator",
        description="Dream 360° images and video with DeepDream, and play them back.")
    parser.add_argument("--version", action="version", version=f"hallucinator {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    parser.add_argument("--threads", type=int, metavar="N", dest="global_threads",
                        help="CPU threads for the network (default: one per core); OpenMP waits passively "
                             "unless OMP_WAIT_POLICY says otherwise")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    bench = sub.add_parser("bench", help="measure speed against a plain reference in the same run")
    bench_sub = bench.add_subparsers(dest="bench_command", metavar="WHAT")
    bench.set_defaults(func=lambda args: bench.print_help() or 2)
    for module in _command_modules():
        if hasattr(module, "register"):
            module.register(sub)
        if hasattr(module, "register_bench"):
            module.register_bench(bench_sub)
    return parser


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv
    threads.prefer_passive_wait()  # before anything loads torch
    parser = build_parser()
    try:
        args = parser.parse_args(argv)  # an option's parser may raise a UserError too
        if not getattr(args, "func", None):
            parser.print_help()
            return 2
        threads.set_threads(args.global_threads)
        return int(args.func(args) or 0)
    except UserError as exc:
        if debug:
            raise
        print(f"hallucinator: error: {exc.message}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print("hallucinator: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
