"""Recipe search for the README's digits target: several `ganforge train --data digits` runs side by side.

Each configuration (a string of `ganforge train` flags) trains in its own process for each seed, then
the independent digit classifier (ganforge.metrics.digit_classifier) reads 1,000 samples of its final
EMA generator, as benchmarks/digits_quality.py does. A GPU runs many small runs at once, so the search
is cheap there; the step counts transfer to the CPU (a step is the same work on either device), and
the winner's CPU time is then measured on the CPU with the README's own command.

    python benchmarks/digits_search.py --device cuda --parallel 8 --seeds 0 \\
        "--preset recommended" "--preset recommended --beta1 0 --beta2 0.99"
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from ganforge.checkpoint import load_checkpoint
from ganforge.inference.sampling import generate, latents, load_generator
from ganforge.metrics.digit_classifier import DigitClassifier, load_digit_classifier, read_digits


def train(flags: str, seed: int, steps: int, device: str, out: Path) -> float:
    """Wall seconds of one run; raises with the run's last lines if it fails."""
    cmd = [sys.executable, "-m", "ganforge", "train", "--data", "digits", "--out", str(out), "--quiet",
           "--steps", str(steps), "--seed", str(seed), "--device", device, "--sample-every", "100000",
           *shlex.split(flags)]
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{flags} (seed {seed}) failed: {(done.stderr or done.stdout)[-400:]}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("configs", nargs="+", help="each a string of `ganforge train` flags")
    parser.add_argument("--steps", type=int, default=3500)
    parser.add_argument("--seeds", default="0", help="comma-separated")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--parallel", type=int, default=1, help="runs at once")
    parser.add_argument("--classifier", type=Path, default=None,
                        help="a cached classifier file (the same judge as another machine's runs)")
    args = parser.parse_args()
    if args.classifier:
        model = DigitClassifier()
        model.load_state_dict(load_checkpoint(args.classifier)["weights"])
        model.eval()
    else:
        model = load_digit_classifier().model
    seeds = [int(s) for s in args.seeds.split(",")]
    root = Path(tempfile.mkdtemp(prefix="digits-search-"))
    # seed-major order: if the search is cut short, every configuration has about as many seeds done
    jobs = [(flags, seed) for seed in seeds for flags in args.configs]
    scores: dict[str, list[float]] = {flags: [] for flags in args.configs}
    with ThreadPoolExecutor(args.parallel) as pool:
        futures = {pool.submit(train, flags, seed, args.steps, args.device, root / f"run{i}"): (flags, seed, i)
                   for i, (flags, seed) in enumerate(jobs)}
        for future in as_completed(futures):  # scored as they finish, so a cut-short search still reports
            flags, seed, i = futures[future]
            try:
                seconds = future.result()
            except RuntimeError as err:
                print(f"FAILED {err}", flush=True)
                continue
            loaded = load_generator(root / f"run{i}" / "checkpoints" / "latest.pt", use_ema=True)
            report = read_digits(model, generate(loaded.G, latents(1000, loaded.latent_dim, 0)), 0.9)
            scores[flags].append(report.confident_fraction)
            print(f"{flags!r:<70} seed {seed}: {report.confident_fraction:6.1%} confident, "
                  f"{report.classes_found}/10 digits, {seconds:.0f} s", flush=True)
    print(f"\n{args.steps} steps each; median over seeds {args.seeds} of the share read confidently (p >= 0.9)")
    for flags, values in sorted(scores.items(), key=lambda kv: -statistics.median(kv[1] or [0])):
        if values:
            print(f"{statistics.median(values):6.1%}  (mean {statistics.mean(values):.1%}, min {min(values):.1%},"
                  f" {len(values)} seeds)  {flags}")


if __name__ == "__main__":
    main()
