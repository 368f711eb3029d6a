"""`ganforge report`: (re)write a run's self-contained report.html."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("report", help="write RUN/report.html (self-contained, opens offline)",
                       description="Config, loss and D(x)/D(G(z)) curves, sample evolution, doctor events, "
                                   "metrics and the final grid, in one HTML file. Works while the run trains.")
    p.add_argument("run", type=Path, metavar="RUN_DIR")
    return p


def run(args: argparse.Namespace) -> int:
    from ganforge.inference.report import write_report

    print(f"wrote {write_report(args.run)}")
    return 0
