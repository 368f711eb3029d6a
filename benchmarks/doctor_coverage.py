"""Does the doctor's class-coverage check stay quiet on a healthy run and name the classes a collapsed G misses?

    python benchmarks/doctor_coverage.py            # about 1.5 CPU minutes on one thread

1. A healthy run: DCGAN on the built-in digits (the plain preset), 600 steps; prints, per log window, the classes
   G's samples cover (of those judged), the leave-one-out accuracy of the nearest-neighbour labels in D's feature
   space, and every doctor event.
2. With that run's trained D, stand-in generators that replay held-out real digits: of every class, of classes
   0-5 only, of every class but 3, and one image over and over; prints what the check says of each.
3. The cost: one coverage check, one spread check and one training step (medians of 5), as a share of a log window.
Coverage of 2D modes is measured by `ganforge bench modes` (its doctor column).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from ganforge.config import resolve_config
from ganforge.training.doctor import diversity_ratio
from ganforge.training.loop import Trainer
from ganforge.training.metrics_log import read_metrics


class ReplayG(nn.Module):
    """Each latent picks one of a fixed set of images."""

    def __init__(self, images: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("images", images)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.images[(z[:, 0].abs() * 1e4).long() % len(self.images)]


def median_seconds(work, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return sorted(times)[repeats // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=600)
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "digits"
        config = resolve_config(dict(data="digits", total_steps=args.steps, log_every=50, sample_every=10_000))
        trainer = Trainer(config, out, quiet=True)
        start = time.process_time()
        trainer.run()
        print(f"1. healthy run: digits, plain preset, {args.steps} steps, {time.process_time() - start:.0f} CPU s")
        for record in read_metrics(out / "metrics.jsonl"):
            if "event" in record:
                print(f"  step {record['step']:>4}  {record['event']}: {record['message']}")
            elif "doctor/classes_covered" in record:
                print(f"  step {record['step']:>4}  classes covered {record['doctor/classes_covered']}"
                      f"/{record['doctor/classes_judged']}  label accuracy {record['doctor/class_accuracy']:.3f}"
                      f"  diversity {record['doctor/diversity']:.2f}")

        check, recipe, d_input = trainer.coverage_check, trainer.recipe, trainer.remedies.d_input
        held_out, labels = recipe.batches(trainer.device, 1024, seed=123).next()
        print("2. the trained D's view of stand-in generators replaying held-out digits")
        for name, images in [("every class", held_out), ("classes 0-5 only", held_out[labels < 6]),
                             ("every class but 3", held_out[labels != 3]), ("one image", held_out[:1])]:
            c = check(recipe, ReplayG(images), d_input)
            print(f"  {name:<18} covers {c.covered} of {c.judged} classes, missing: {', '.join(c.missing) or '-'}")

        step = median_seconds(lambda: trainer.step_fn(*trainer.next_batch()))
        coverage = median_seconds(lambda: check(recipe, trainer.G, d_input))
        spread = median_seconds(lambda: diversity_ratio(recipe, trainer.G, d_input, trainer.sample_inputs,
                                                        trainer.doctor_real))
        window = 50 * step
        print(f"3. cost: coverage check {coverage * 1000:.0f} ms ({coverage / window:.1%} of a 50-step window), "
              f"spread check {spread * 1000:.0f} ms ({spread / window:.1%}), one step {step * 1000:.0f} ms")


if __name__ == "__main__":
    main()
