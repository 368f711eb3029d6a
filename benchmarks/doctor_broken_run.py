"""Does the training doctor flag a deliberately broken run, and go quiet when its remedy is applied?

    python benchmarks/doctor_broken_run.py            # about 2 CPU minutes on one thread

The broken run: DCGAN on the built-in digits with D's learning rate 10x G's (2e-4 vs 2e-5), no
remedies (augmentation off). D soon tells real from generated almost every time. The remedied run
is the same with `--balance skip` (the default thresholds). For each it prints the D(x) / D(G(z))
trace per log window and every doctor event.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from ganforge.config import resolve_config
from ganforge.training.loop import Trainer
from ganforge.training.metrics_log import read_metrics

BROKEN = dict(data="digits", lr_d=2e-4, lr_g=2e-5, augment="off", log_every=50, sample_every=1000)


def run(name: str, values: dict, steps: int, root: Path) -> None:
    start = time.process_time()
    Trainer(resolve_config({**values, "total_steps": steps}), root / name, quiet=True).run()
    print(f"\n{name}: {steps} steps, {time.process_time() - start:.0f} CPU s")
    for record in read_metrics(root / name / "metrics.jsonl"):
        if str(record.get("event", "")).startswith("doctor/"):
            print(f"  step {record['step']:>4}  {record['event']}: {record['message']}")
        elif "loss/D" in record:
            print(f"  step {record['step']:>4}  D(x) {record['D/real_prob']:.3f}  D(G(z)) {record['D/fake_prob']:.3f}"
                  f"  diversity {record.get('doctor/diversity', float('nan')):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400)
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        run("broken (lr_D = 10 lr_G, no remedies)", BROKEN, args.steps, Path(tmp))
        run("remedied (same + --balance skip)", {**BROKEN, "balance": "skip"}, args.steps, Path(tmp))


if __name__ == "__main__":
    main()
