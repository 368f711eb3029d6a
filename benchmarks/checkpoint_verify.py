"""What the integrity checks inside a checkpoint cost on load.

Writes a checkpoint shaped like a real one (G, D, their Adam moments: many tensors of mixed sizes) with
`save_checkpoint`, then times, alternating so that drift in the machine's load hits all alike:

* `torch.load(weights_only=True)` of the file: the plain load, with no check (the reference);
* `safe_torch_load`: the same load with the checks inside the file (zip structure, integrity record,
  the CRC-32 of every member computed as torch reads it);
* `load_checkpoint`: all of that plus the `.sha256` file beside it (a second full pass, sha256).

It prints the median of --runs loads of each and its ratio to the reference's median, then the same for
the fastest load of each (on a machine shared with other jobs, the fastest load is the one least slowed
by them). Files go to --dir
(default: a temp dir under /tmp) and are deleted afterwards.

    python benchmarks/checkpoint_verify.py --mb 20 500
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from ganforge.checkpoint import load_checkpoint, safe_torch_load, save_checkpoint


def fake_state(megabytes: float, seed: int = 0) -> dict:
    """G, D and their two Adam moments, ~megabytes in all: conv-sized tensors plus their biases."""
    generator = torch.Generator().manual_seed(seed)
    per_net = int(megabytes * 2**20 / 4 / 6)  # floats for each of G, D, and 2 moments of each
    shapes, left = [], per_net
    while left > 0:
        channels = min(512, max(8, int(left ** 0.5 / 3)))
        numel = min(left, channels * channels * 16)
        shapes.append(numel)
        left -= numel

    def net() -> dict[str, torch.Tensor]:
        state = {}
        for i, numel in enumerate(shapes):
            state[f"layer{i}.weight"] = torch.randn(numel, generator=generator)
            state[f"layer{i}.bias"] = torch.randn(64, generator=generator)
        return state

    G, D = net(), net()
    moments = {name: {k: {"exp_avg": v.clone(), "exp_avg_sq": v.abs()} for k, v in n.items()}
               for name, n in (("G", G), ("D", D))}
    return {"step": 1000, "G": G, "D": D, "opt": moments}


REFERENCE = "torch.load, no check"


def timed(load, path: Path) -> float:
    start = time.perf_counter()
    state = load(path)
    elapsed = time.perf_counter() - start
    del state
    return elapsed


def measure(path: Path, runs: int) -> dict[str, list[float]]:
    loads = {
        REFERENCE: lambda p: torch.load(p, map_location="cpu", weights_only=True),
        "with the checks inside the file": safe_torch_load,
        "load_checkpoint (+ .sha256 beside it)": load_checkpoint,
    }
    for load in loads.values():  # warm the page cache and the code paths
        timed(load, path)
    times: dict[str, list[float]] = {name: [] for name in loads}
    for _ in range(runs):
        for name, load in loads.items():
            times[name].append(timed(load, path))
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, nargs="+", default=[20, 500], help="checkpoint sizes, in MiB")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {args.runs} loads of each")
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="ganforge-ckpt-bench-") as tmp:
        for megabytes in args.mb:
            path = save_checkpoint(Path(tmp) / f"ckpt-{megabytes:g}mb.pt", fake_state(megabytes))
            size = path.stat().st_size / 2**20
            results = measure(path, args.runs)
            median = {name: statistics.median(values) for name, values in results.items()}
            fastest = {name: min(values) for name, values in results.items()}
            print(f"\n{size:.1f} MiB checkpoint ({path.name}):           median              fastest")
            for name in results:
                print(f"  {name:40s} {median[name] * 1000:9.1f} ms x{median[name] / median[REFERENCE]:.3f}"
                      f"   {fastest[name] * 1000:9.1f} ms x{fastest[name] / fastest[REFERENCE]:.3f}")
            path.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
