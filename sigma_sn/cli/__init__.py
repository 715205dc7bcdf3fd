"""The ``sigma-sn`` command: one sub-module per command group.

Each sub-module has ``register(subparsers)`` that adds its parser and sets
``func=run``; ``run(args) -> int`` reads files, makes one library call and writes
its output. Heavy imports stay inside ``run`` so ``sigma-sn --help`` is instant.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings

from sigma_sn import __version__
from sigma_sn.errors import InputError

#: command groups, in the order ``--help`` lists them
COMMANDS = ("run", "windows", "constellation", "plan", "simulate", "compare", "sweep", "report",
            "emulate", "fetch")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sigma-sn",
        description="Plan and simulate SIGMA-SN handover in LEO satellite networks.")
    parser.add_argument("--version", action="version", version=f"sigma-sn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"sigma_sn.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"sigma_sn.cli.{name}":
                raise
            continue  # a command group that is not built yet
        module.register(sub)
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    warnings.showwarning = _show_warning
    # numpy's floating-point notes ("invalid value encountered in cos") say nothing a user
    # can act on; what the NaN means (a satellite SGP4 cannot propagate) is said instead
    warnings.filterwarnings("ignore", r"(invalid value|divide by zero|overflow) encountered",
                            RuntimeWarning)
    from sigma_sn.compute import WorkLost, command_session
    try:
        with command_session(args):
            return int(args.func(args) or 0)
    except InputError as exc:
        print(f"sigma-sn {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except WorkLost as exc:
        print(f"sigma-sn {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
