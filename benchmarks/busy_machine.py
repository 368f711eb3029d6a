"""The README's main command on a machine doing other things: img/s with 0 and 1 cores busy, before and after.

    python benchmarks/busy_machine.py                   # before/after, 0 and 1 busy cores, 400 steps each
    python benchmarks/busy_machine.py --steps 150 --variants before after auto-spin fixed-passive

Each measurement is a fresh `ganforge train --data digits --preset recommended` (the README's first command,
default settings) in its own process, with `--steps` and `--log-every` shortened; its img/s is the median of the
metrics.jsonl records after the first `--skip` steps (start-up, the thread-count trial), wall clock. "Busy" cores
are spinning Python processes this script starts before the run and stops after it. The variants:

- before: the old default, one thread per core (`--threads CORES`) and OpenMP's own wait policy (libgomp spins
  ~3 ms before sleeping; reproduced by GOMP_SPINCOUNT=300000, which also keeps ganforge from choosing one);
- after: today's default, no flag: the thread count chosen by timing, OpenMP threads sleep while waiting;
- auto-spin / fixed-passive: one of the two changes alone, to see which one does what.

Printed per variant: img/s idle and busy, their ratio (busy/idle; the target is >= 0.40 with 1 of 2 cores busy),
and the load average (1 min) read just before each run: on a shared machine "0 busy" is not idle, so compare
variants measured in the same run, and re-run on a quiet machine for the real idle figure.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WAIT_SETTINGS = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
LIBGOMP_DEFAULT_SPIN = "300000"  # libgomp's spin count when no wait policy is set (~3 ms)


def spin() -> None:
    while True:
        pass


def variant_setup(name: str, cores: int) -> tuple[list[str], dict[str, str]]:
    """(extra flags, extra environment) of a variant."""
    fixed, spin_env = ["--threads", str(cores)], {"GOMP_SPINCOUNT": LIBGOMP_DEFAULT_SPIN}
    return {"before": (fixed, spin_env), "after": ([], {}), "auto-spin": ([], spin_env),
            "fixed-passive": (fixed, {"OMP_WAIT_POLICY": "PASSIVE"})}[name]


def measure(variant: str, busy: int, args: argparse.Namespace, work: Path) -> dict:
    flags, extra_env = variant_setup(variant, args.cores)
    env = {k: v for k, v in os.environ.items() if k not in WAIT_SETTINGS}  # the child's own defaults
    env.update(extra_env)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    out = work / f"{variant}-busy{busy}"
    command = [sys.executable, "-m", "ganforge", "train", "--data", "digits", "--out", str(out), "--preset",
               "recommended", "--steps", str(args.steps), "--log-every", str(args.log_every), "--quiet", *flags]
    spinners = [multiprocessing.Process(target=spin, daemon=True) for _ in range(busy)]
    for process in spinners:
        process.start()
    load = os.getloadavg()[0]
    try:
        subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, timeout=args.timeout)
    finally:
        for process in spinners:
            process.terminate()
            process.join()
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    rates = [r["time/img_per_s"] for r in records if "time/img_per_s" in r and r["step"] > args.skip]
    threads = sorted({r["time/threads"] for r in records if "time/threads" in r and r["step"] > args.skip})
    shutil.rmtree(out, ignore_errors=True)
    return {"variant": variant, "busy": busy, "img_per_s": statistics.median(rates), "load_1min": load,
            "threads": threads}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--log-every", type=int, default=25)
    parser.add_argument("--skip", type=int, default=50, help="steps not counted (start-up, thread trial)")
    parser.add_argument("--busy", type=int, nargs="+", default=[0, 1], help="numbers of busy cores to try")
    parser.add_argument("--variants", nargs="+", default=["before", "after"],
                        choices=["before", "after", "auto-spin", "fixed-passive"])
    parser.add_argument("--cores", type=int, default=len(os.sched_getaffinity(0)),
                        help="the old default's thread count (one per core)")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per run at most")
    parser.add_argument("--json", type=Path, help="also write the measurements here")
    args = parser.parse_args()
    print(f"{args.cores} cores; load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    results = []
    with tempfile.TemporaryDirectory(prefix="busy-machine-") as tmp:
        for busy in args.busy:  # variants interleaved within each busy level: a load change hits them alike
            for variant in args.variants:
                result = measure(variant, busy, args, Path(tmp))
                results.append(result)
                print(f"{variant:<14} busy {busy}: {result['img_per_s']:7.1f} img/s  threads {result['threads']}  "
                      f"(load {result['load_1min']:.2f})", flush=True)
    print(f"\n{'variant':<14} " + " ".join(f"{f'busy {b} img/s':>14}" for b in args.busy) + "   busy/idle")
    for variant in args.variants:
        rate = {r["busy"]: r["img_per_s"] for r in results if r["variant"] == variant}
        ratios = [f"{rate[b] / rate[0]:.2f} (busy {b})" for b in args.busy if b and 0 in rate]
        print(f"{variant:<14} " + " ".join(f"{rate[b]:>14.1f}" for b in args.busy) + "   " + ", ".join(ratios))
    if "before" in args.variants and "after" in args.variants:
        for busy in args.busy:
            before, after = ([r["img_per_s"] for r in results if r["variant"] == v and r["busy"] == busy][0]
                             for v in ("before", "after"))
            print(f"after/before with {busy} busy: {after / before:.2f}x")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
