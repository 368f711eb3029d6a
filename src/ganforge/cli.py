"""The `ganforge` command: parses flags, then hands off to library functions.

Each subcommand lives in `ganforge.commands.<name>` and exposes `add_parser(subparsers)` and
`run(args) -> int`. Adding a command means adding its module name to COMMANDS.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import os
import sys
from typing import NoReturn

from ganforge.errors import GanforgeError, os_error_line
from ganforge.version import __version__

COMMANDS = ["train", "sample", "interpolate", "export", "report", "serve", "translate", "eval_translation", "stylize",
            "eval", "bench", "mix", "project"]


DESCRIPTION = """\
Train GANs on your own folder of images (or the built-in handwritten digits), watch them learn, and use
what they make: sample grids, latent walks, a local web page, ONNX/TorchScript files. Neural style
transfer too. Works on a laptop CPU or a GPU.

Start here:
  ganforge train --data digits --out runs/digits --preset recommended --steps 4000
  ganforge sample runs/digits -n 64 -o grid.png
  ganforge serve runs/digits

Your own images: ganforge train --data ~/pictures/cats --resolution 64 --out runs/cats --max-minutes 60
"""
EPILOG = "Every command has its own help: ganforge COMMAND --help (e.g. ganforge train --help)."


class OneLineErrorParser(argparse.ArgumentParser):
    """Flag errors on one line, like every other ganforge error (argparse would print the usage first)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")

    def parse_args(self, args: list[str] | None = None,  # type: ignore[override]
                   namespace: argparse.Namespace | None = None) -> argparse.Namespace:
        argv = sys.argv[1:] if args is None else list(args)
        self._check_long_flags(argv)
        return super().parse_args(argv, namespace)

    def _check_long_flags(self, argv: list[str]) -> None:
        """`unknown flag --stpes; did you mean --steps?`, checked before argparse runs, so that a misspelt
        required flag is named as misspelt rather than as missing."""
        parser, start = self, 0
        while True:  # down to the innermost command named (e.g. `bench modes`)
            word = next((i for i in range(start, len(argv)) if not argv[i].startswith("-")), None)
            inner = parser._subparser(argv[word]) if word is not None else None
            if inner is None:
                break
            parser, start = inner, word + 1
        if parser is self:
            return
        known = [s for action in parser._actions for s in action.option_strings if s.startswith("--")]
        for arg in argv[start:]:
            if arg == "--":
                break
            flag = arg.split("=", 1)[0]
            if not flag.startswith("--") or flag == "--" or any(k.startswith(flag) for k in known):
                continue  # a value, a known flag, or an abbreviation argparse resolves (or calls ambiguous)
            close = difflib.get_close_matches(flag, known, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]}?" if close else f" (see {parser.prog} --help)"
            parser.exit(2, f"{parser.prog}: error: unknown flag {flag}{hint}\n")

    def _subparser(self, command: str) -> OneLineErrorParser | None:
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction) and command in action.choices:
                return action.choices[command]
        return None


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(prog="ganforge", description=DESCRIPTION, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"ganforge {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", title="commands")
    for name in COMMANDS:
        module = importlib.import_module(f"ganforge.commands.{name}")
        p = module.add_parser(sub)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    code = _run_command(argv)
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:  # a torchrun worker (training/distributed.py)
        from ganforge.training import distributed

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
    except OSError as err:  # an output that cannot be written (a file in the way, no permission, disk full, ...)
        print(f"ganforge {args.command}: error: {os_error_line(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"ganforge {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
