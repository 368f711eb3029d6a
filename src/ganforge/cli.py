"""The `ganforge` command: parses flags, then hands off to library functions.

Each subcommand lives in `ganforge.commands.<name>` and exposes `add_parser(subparsers)` and
`run(args) -> int`. Adding a command means adding its module name to COMMANDS.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import NoReturn

from ganforge.errors import GanforgeError
from ganforge.version import __version__

COMMANDS = ["train", "sample", "interpolate", "export", "report", "serve", "translate", "eval_translation", "stylize",
            "eval", "bench"]


class OneLineErrorParser(argparse.ArgumentParser):
    """Flag errors on one line, like every other ganforge error (argparse would print the usage first)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(prog="ganforge", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"ganforge {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"ganforge.commands.{name}")
        p = module.add_parser(sub)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    code = _run_command(argv)
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:  # a torchrun worker (train/distributed.py)
        from ganforge.train import distributed

        distributed.exit_process(code)
    return code


def _run_command(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except GanforgeError as err:
        print(f"ganforge {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"ganforge {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
