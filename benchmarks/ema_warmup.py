"""EMA warm-up: several moving averages of G kept side by side on ONE digits run, each scored.

The average of G's weights used for sampling follows beta = min(cap, (1 + step) / (c + step)): early on it
spans about the last 1/(c - 1) of the steps so far. Keeping every candidate on the same training
trajectory makes the comparison paired (the run-to-run spread of several points cancels out). Each
average is scored like benchmarks/digits_quality.py: the independent digit classifier reads 1,000
samples (latent seed 0) and counts those read with probability >= 0.9.

    python benchmarks/ema_warmup.py --seed 0 --threads 1       # docs/results.md's table: ~14 min a seed
    python benchmarks/ema_warmup.py --seed 0 --set d_width=32 --steps 5500 --score-at 3500,5500
"""

from __future__ import annotations

import argparse
import copy
import json
import tempfile

import torch

from ganforge.config import resolve_config
from ganforge.inference.sampling import generate, latents
from ganforge.metrics.digit_classifier import load_digit_classifier, read_digits
from ganforge.training.ema import WeightAverage, ema_beta_at, make_ema
from ganforge.training.loop import Trainer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=3500)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--score-at", default="2500,3000,3500", help="steps at which every average is scored")
    parser.add_argument("--warmups", default="10:0.999,6:0.999,4:0.999,3:0.9995,2:1",
                        help="c:cap pairs, one average each")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=JSON",
                        help="a training setting over the digits preset, e.g. d_width=32")
    args = parser.parse_args()
    extra = {k: json.loads(v) for k, v in (item.split("=", 1) for item in args.set)}
    config = resolve_config({"data": "digits", "preset": "recommended", "total_steps": args.steps, "seed": args.seed,
                          "threads": args.threads, "sample_every": 10**9, "checkpoint_every": 10**9, **extra})
    trainer = Trainer(config, tempfile.mkdtemp(prefix="ema-warmup-"), quiet=True)
    averages = {}
    for spec in args.warmups.split(","):
        c, cap = (float(x) for x in spec.split(":"))
        ema = make_ema(trainer.G)
        averages[f"c={c:g} cap={cap:g}"] = (ema, WeightAverage(ema, trainer.G), c, cap)
    classifier = load_digit_classifier().model
    z = latents(1000, trainer.config.latent_dim, 0)
    score_at = {int(s) for s in args.score_at.split(",")}
    loop_average = trainer.weight_average  # the loop's own EMA, with training/ema.py's warm-up
    step = 0

    def score(G: torch.nn.Module) -> float:
        G = copy.deepcopy(G).eval()
        return round(read_digits(classifier, generate(G, z), 0.9).confident_fraction * 100, 1)

    def every_step(beta: float) -> None:
        nonlocal step
        loop_average(beta)
        for _, average, c, cap in averages.values():
            average(ema_beta_at(step, cap, warmup=c))
        step += 1
        if step in score_at:
            row = {"seed": args.seed, "step": step, **extra, "loop EMA": score(trainer.G_ema)}
            row.update({name: score(ema) for name, (ema, *_) in averages.items()})
            row["raw G"] = score(trainer.G)
            print(json.dumps(row), flush=True)

    trainer.weight_average = every_step
    trainer.run()


if __name__ == "__main__":
    main()
