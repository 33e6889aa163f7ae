"""The ``hallucinator`` command: one entry point with subcommands.

Each feature module adds its own subcommands through a ``register(sub)``
function (and ``register_bench(bench_sub)`` for ``hallucinator bench ...``);
this file only wires them together and turns :class:`UserError` into a
one-line message and exit code 2.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from .. import __version__
from ..errors import UserError

# Modules that contribute subcommands, in the order they appear in --help.
COMMAND_MODULES = (
    "hallucinator.cli.commands",          # dream, models, inspect, demo, bench dream
    "hallucinator.video.pipeline",          # cache (video dreaming lives inside `dream`)
    "hallucinator.cli.view",        # view, bench viewer
    "hallucinator.cli.experiment",    # experiment ...
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hallucinator",
        description="Dream 360° images and video with DeepDream, and play them back.")
    parser.add_argument("--version", action="version", version=f"hallucinator {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    bench = sub.add_parser("bench", help="measure speed against a plain reference in the same run")
    bench_sub = bench.add_subparsers(dest="bench_command", metavar="WHAT")
    bench.set_defaults(func=lambda args: bench.print_help() or 2)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:  # a part that is not installed in this build
            if exc.name and name.startswith(exc.name):
                continue
            raise
        if hasattr(module, "register"):
            module.register(sub)
        if hasattr(module, "register_bench"):
            module.register_bench(bench_sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        result = args.func(args)
        return int(result or 0)
    except UserError as exc:
        if args.debug:
            raise
        print(f"hallucinator: error: {exc.message}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print("hallucinator: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
