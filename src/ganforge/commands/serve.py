"""`ganforge serve`: a local web page for one or more runs."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("serve", help="open a local web page to generate from and monitor runs",
                       description="Generate (seed, count, class, truncation, EMA, interpolation), translate with "
                                   "pix2pix runs, stylise pictures, watch a training run and probe the "
                                   "discriminator, in the browser; each run gets the tabs it supports. "
                                   "Needs: pip install 'ganforge[serve]'.")
    p.add_argument("runs", type=Path, nargs="+", metavar="RUN_DIR")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only; other values warn)")
    p.add_argument("--port", type=int, default=7860, help="port to listen on (default 7860)")
    return p


def run(args: argparse.Namespace) -> int:
    from ganforge.config.ranges import PORT, check_number

    check_number("--port", args.port, PORT)  # before importing the web stack, which takes seconds
    from ganforge.serve.app import start
    from ganforge.serve.runs import open_runs

    start(open_runs(args.runs), args.host, args.port, block=True)
    return 0
