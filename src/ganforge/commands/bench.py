"""`ganforge bench`: quality benchmarks. `ganforge bench modes`: the mode-collapse benchmarks."""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from ganforge.config.ranges import SEED, TRAIN_RANGES, check_number
from ganforge.errors import GanforgeError


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("bench", help="run quality benchmarks")
    kinds = p.add_subparsers(dest="bench", required=True, metavar="BENCHMARK")
    modes = kinds.add_parser(
        "modes", help="ring, grid and stacked-digits: plain baseline vs recommended recipe",
        description="Trains each benchmark with the plain baseline and the recommended recipe over several "
                    "seeds, scores them with the published protocol and prints one table beside PacGAN's numbers.")
    modes.add_argument("--only", default="ring,grid,stacked-digits",
                       help="comma-separated subset of ring, grid, stacked-digits")
    modes.add_argument("--seeds", default="0,1,2,3,4", help="comma-separated seeds, or a count (default 0,1,2,3,4)")
    modes.add_argument("--max-minutes", type=float, default=None,
                       help="CPU-time budget per run, in minutes of this process's CPU time (default: 3 for "
                            "ring/grid, 20 for stacked-digits)")
    modes.add_argument("--recipes", default="plain,recommended", help="comma-separated: plain, recommended")
    modes.add_argument("--out", type=Path, default=None, help="keep the runs here (default: a temporary folder)")
    modes.add_argument("--json", type=Path, default=None, help="also write every run's scores to this file")
    return p


def _parse_list(text: str, allowed: tuple[str, ...], flag: str) -> tuple[str, ...]:
    items = tuple(s.strip() for s in text.split(",") if s.strip())
    bad = [s for s in items if s not in allowed]
    if bad or not items:
        raise GanforgeError(f"{flag}: unknown {', '.join(bad) or 'empty list'}; choose from {', '.join(allowed)}")
    return items


MAX_SEEDS = 100  # runs per benchmark and recipe: each takes minutes


def _parse_seeds(text: str) -> tuple[int, ...]:
    try:
        values = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise GanforgeError(f"--seeds: expected whole numbers like 0,1,2 or a count like 5, got {text!r}") from None
    if len(values) == 1 and "," not in text:
        if not 1 <= values[0] <= MAX_SEEDS:
            raise GanforgeError(f"--seeds: a count must be from 1 to {MAX_SEEDS}, got {values[0]}")
        values = list(range(values[0]))
    if not values or any(not SEED.holds(v) for v in values):
        raise GanforgeError(f"--seeds: expected seeds from 0 to {SEED.high:,.0f} or a count, got {text!r}")
    if len(values) > MAX_SEEDS:
        raise GanforgeError(f"--seeds: at most {MAX_SEEDS} seeds, got {len(values)}")
    return tuple(values)


def run(args: argparse.Namespace) -> int:
    from ganforge.training.mode_benchmarks import (
        BENCHMARKS,
        RECIPES,
        format_run,
        format_table,
        run_modes_bench,
        runs_to_json,
    )

    only = _parse_list(args.only, BENCHMARKS, "--only")
    recipes = _parse_list(args.recipes, RECIPES, "--recipes")
    seeds = _parse_seeds(args.seeds)
    if args.max_minutes is not None:
        check_number("--max-minutes", args.max_minutes, TRAIN_RANGES["max_minutes"])
    if args.out is not None and args.out.exists() and any(args.out.iterdir()):
        raise GanforgeError(f"--out {args.out}: already holds files; choose a new folder")
    with tempfile.TemporaryDirectory(prefix="ganforge-bench-") as tmp:
        out = args.out or Path(tmp)
        runs = run_modes_bench(out, only, seeds, args.max_minutes, recipes, report=lambda r: print(format_run(r),
                                                                                                   flush=True))
    print()
    print(format_table(runs))
    if args.json is not None:
        args.json.write_text(json.dumps(runs_to_json(runs), indent=2) + "\n")
    return 0
