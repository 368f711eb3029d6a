"""Fuzz the loaders of files ganforge did not write: points.npy, paired folders, config.json, checkpoints.

Each case is a damaged, wrong or hostile file made by `ganforge/reliability/loader_fuzz.py` and loaded the
way the CLI loads it. It must be accepted, or refused with one GanforgeError line; another exception, a
message of several lines, or a crafted pickle's code running is a failure. A watchdog ends the run if one
case takes longer than --case-timeout seconds (a hang).

    python benchmarks/fuzz_loaders.py --cases 400
"""

from __future__ import annotations

import argparse
import collections
import faulthandler
import random
import sys
import tempfile
import time
import traceback
from pathlib import Path

from ganforge.reliability.loader_fuzz import TARGETS, run_case


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=400, help="cases per loader")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", choices=sorted(TARGETS), action="append", help="fuzz only these loaders")
    parser.add_argument("--case-timeout", type=float, default=60.0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ganforge-fuzz-loaders-"))
    faulthandler.enable()
    failures: list[str] = []
    for name in args.only or sorted(TARGETS):
        rng = random.Random(f"{args.seed}-{name}")
        outcomes: collections.Counter[str] = collections.Counter()
        start = time.perf_counter()
        for case in range(args.cases):
            faulthandler.dump_traceback_later(args.case_timeout, exit=True)
            try:
                outcomes[run_case(TARGETS[name], rng, work / "case")] += 1
            except Exception as err:  # noqa: BLE001 - an escaped exception is exactly what we look for
                outcomes["failure"] += 1
                where = traceback.extract_tb(err.__traceback__)[-1]
                failures.append(f"{name} case {case}: {type(err).__name__}: {str(err)[:200]} "
                                f"({Path(where.filename).name}:{where.lineno})")
            finally:
                faulthandler.cancel_dump_traceback_later()
        counts = ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items()))
        print(f"{name:14s} {args.cases} cases: {counts} ({time.perf_counter() - start:.1f} s)")
    print(f"crashes: 0, hangs: 0 (either would have ended the run before this line), failures: {len(failures)}")
    for line in failures[:30]:
        print("  " + line)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
