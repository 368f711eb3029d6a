"""Multi-process scaling on one machine: `ganforge train` alone vs under torchrun, same global batch.

    python benchmarks/ddp_scaling.py            # DCGAN-32 on shapes, global batch 128, 2 processes
    python benchmarks/ddp_scaling.py --quick

Runs the real CLI three ways, one after another, each `--steps` steps: one process with one thread,
one process with N threads, and N processes (torchrun, gloo on CPU, one thread each). img/s is the
median of the run's logged windows after the first (time/img_per_s in metrics.jsonl). Scaling
efficiency = img/s with N processes / (N x img/s of one process with one thread). Rounds alternate
the three runs and the figures are medians over rounds, so a changing load hits them alike.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

TRAIN = ["train", "--data", "shapes", "--resolution", "32", "--batch-size", "128", "--sample-every", "100000",
         "--checkpoint-every", "100000", "--quiet", "--precision", "auto", "--device", "cpu"]


def run_rate(out: Path, steps: int, log_every: int, processes: int, threads: int) -> float:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    args = [*TRAIN, "--out", str(out), "--steps", str(steps), "--log-every", str(log_every), "--threads", str(threads)]
    if processes == 1:
        cmd = [sys.executable, "-m", "ganforge", *args]
    else:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes),
               "-m", "ganforge", *args]
    subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    rates = [r["time/img_per_s"] for r in records if "time/img_per_s" in r][1:]  # the first window warms up
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    steps, log_every, rounds = (24, 6, 1) if args.quick else (40, 8, 3)
    n = args.processes
    setups = {"1 process, 1 thread": (1, 1), f"1 process, {n} threads": (1, n), f"{n} processes, 1 thread each": (n, 1)}
    rates: dict[str, list[float]] = {name: [] for name in setups}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(rounds):
            for i, (name, (processes, threads)) in enumerate(setups.items()):
                rates[name].append(run_rate(Path(tmp) / f"{r}-{i}", steps, log_every, processes, threads))
    medians = {name: statistics.median(v) for name, v in rates.items()}
    base = medians["1 process, 1 thread"]
    print(f"DCGAN-32, shapes, global batch 128, {steps} steps x {rounds} round(s), {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f}")
    for name, rate in medians.items():
        print(f"{name:<32}{rate:>8.1f} img/s{rate / base:>7.2f}x")
    print(f"scaling efficiency of {n} processes: {medians[f'{n} processes, 1 thread each'] / (n * base):.0%}")


if __name__ == "__main__":
    main()
