"""Do the scores mean something? FID/KID over a digits training run, and a collapsed generator next to it.

Trains a DCGAN on the built-in digits (32 px, default widths) with `--eval-every`, prints the scores
as training goes on, then scores the final generator against the same generator fed one single
latent (deliberate mode collapse) on the same number of samples, and times a full `ganforge eval`.

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/eval_quality_digits.py --steps 1500 --eval-every 250
    python benchmarks/eval_quality_digits.py --run runs/digits      # reuse a run trained with --eval-every
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from ganforge.config import TrainConfig
from ganforge.data import load_dataset
from ganforge.inference.sampling import generate, latents, load_generator
from ganforge.metrics.evaluate import evaluate_run
from ganforge.metrics.evaluator import EvalSettings, Evaluator, score_features
from ganforge.metrics.features import Features, create_extractor, extract_features
from ganforge.metrics.table import eval_records, format_table
from ganforge.training.loop import train


def collapsed_features(G: torch.nn.Module, latent_dim: int, n: int, evaluator: Evaluator) -> Features:
    """n samples that all come from the first latent: the generator reduced to one output."""
    z = latents(1, latent_dim, seed=0).expand(200, -1)
    batches = (generate(G, z[: min(200, n - start)]) for start in range(0, n, 200))
    return extract_features(evaluator.extractor, batches, evaluator.device, evaluator.precision)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=None, help="an existing digits run (else one is trained)")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--eval-every", type=int, default=250)
    parser.add_argument("-n", type=int, default=10_000, help="samples for the final comparison and the timed eval")
    args = parser.parse_args()
    run = args.run
    if run is None:
        run = Path(tempfile.mkdtemp()) / "digits"
        config = TrainConfig(data="digits", total_steps=args.steps, eval_every=args.eval_every, seed=0,
                             augment="off")  # as measured in docs/results.md (ADA is on by default for digits)
        start = time.perf_counter()
        train(config, run, quiet=True)
        print(f"trained {args.steps} steps in {time.perf_counter() - start:.0f} s ({run})")
    print("\n[1] scores during training (2,000 samples each, digits extractor):")
    print(format_table(eval_records(run / "metrics.jsonl")))

    loaded = load_generator(run / "checkpoints" / "latest.pt")
    settings = EvalSettings(metrics=("fid", "kid", "pr"), n_gen=args.n)
    evaluator = Evaluator(load_dataset("digits", 32, 1), create_extractor("digits"), settings)
    trained = evaluator(loaded.G, loaded.latent_dim, loaded.step)
    one_latent = collapsed_features(loaded.G, loaded.latent_dim, args.n, evaluator)
    collapsed, _ = score_features(evaluator.real, one_latent, settings, has_classifier=True)
    print(f"[2] step {loaded.step}, {args.n} samples each: trained vs one-latent (collapsed) generator")
    for score in ("fid", "kid", "precision", "recall", "density", "coverage"):
        print(f"    {score:9s} trained {trained[f'eval/{score}']:9.4f}   collapsed {collapsed[score]:9.4f}")

    start = time.perf_counter()
    evaluate_run(run, "fid,kid", args.n, quiet=True)
    print(f"\n[3] `ganforge eval` of the latest checkpoint, FID + KID on {args.n} samples at 32 px "
          f"(real features cached): {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
