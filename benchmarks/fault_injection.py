"""Crash-safety campaign: kill `ganforge train` at random moments, resume, and check nothing is lost.

The campaign and every check it makes: `ganforge/reliability/faults.py`. This script runs a long one.

    python benchmarks/fault_injection.py --kills 20
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from ganforge.reliability.faults import run_campaign


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20, help="SIGKILLs (default 20)")
    parser.add_argument("--graceful", type=int, default=4, help="SIGTERM/SIGINT stops after the kills (default 4)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-delay", type=float, default=8.0, help="longest random delay before a kill (s)")
    parser.add_argument("--work-dir", type=Path, default=None)
    args = parser.parse_args()
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="ganforge-faults-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"fault injection in {work}: {args.kills} SIGKILLs, {args.graceful} graceful stops, seed {args.seed}")
    started = time.perf_counter()
    result = run_campaign(work, args.kills, args.graceful, args.seed, args.max_delay)
    print(result.summary())
    print(f"took {time.perf_counter() - started:.0f} s")
    print(json.dumps({"faults": result.kills + result.graceful_stops, "resumes": result.resumes,
                      "failures": len(result.failures)}))
    return 1 if result.failures else 0


if __name__ == "__main__":
    sys.exit(main())
