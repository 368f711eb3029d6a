"""Score a digits run the way the README and docs/results.md report it: an independent classifier reads 1,000 samples.

    ganforge train --data digits --out runs/digits --steps 3000
    python benchmarks/digits_quality.py runs/digits

Prints, for every checkpoint in the run, how many of the 10 digits the classifier finds and what share
of 1,000 samples (seed 0, drawn as `ganforge sample` draws them: InfoGAN categories in the data's proportions
where the checkpoint recorded them) it reads with probability >= 0.9. Real digits score 94-95% on the same
test, so 90% means "about as legible as the training data".
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from ganforge.data import load_dataset
from ganforge.images import from_uint8
from ganforge.inference.sampling import load_generator, sample_images
from ganforge.metrics.digit_classifier import load_digit_classifier, read_digits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("-n", type=int, default=1000)
    parser.add_argument("--threshold", type=float, default=0.9)
    parser.add_argument("--uniform-categories", action="store_true",
                        help="draw InfoGAN categories uniformly, as in training, not in the data's proportions")
    args = parser.parse_args()
    classifier = load_digit_classifier()
    real = read_digits(classifier.model, from_uint8(load_dataset("digits", 32, 1).images), args.threshold)
    print(f"classifier held-out accuracy {classifier.heldout_accuracy:.1%}; real digits: {real.summary()}")
    checkpoints = sorted((args.run / "checkpoints").glob("step-*.pt")) + [args.run / "checkpoints" / "latest.pt"]
    for path in checkpoints:
        for ema in (True, False):
            loaded = load_generator(path, use_ema=ema)
            if args.uniform_categories:
                loaded = replace(loaded, category_prior=None)
            report = read_digits(classifier.model, sample_images(loaded, args.n, seed=0)[0], args.threshold)
            print(f"{path.name:>18} step {loaded.step:>6} {'EMA' if ema else 'raw'}: {report.summary()}")
            if not ema:
                break


if __name__ == "__main__":
    main()
