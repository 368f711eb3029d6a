"""Does the doctor speak on real folders, and stay quiet on a healthy run?

    sudo apt-get install tuxpaint-stamps-default      # Debian's Tux Paint stamps: ~800 drawings, 17 categories
    python benchmarks/doctor_folders.py --out /tmp/doctor-folders            # 3 runs of 2 CPU minutes, one thread

Runs, each with the default (plain) recipe at 32 px for the same CPU time, logging every 25 steps:
1. class-conditional on three Tux Paint categories (food, town, vehicles: 184 drawings);
2. unconditional on one category folder (animals: 146 drawings);
3. class-conditional on the built-in digits (the healthy reference: conditional DCGAN draws every digit on request).
For each it prints every log window's D(x), D(G(z)), overall and within-class spread (`doctor/diversity`,
`doctor/class_diversity`) and every doctor event.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from ganforge.config import resolve_config
from ganforge.runtime import torch_threads
from ganforge.training.loop import Trainer
from ganforge.training.metrics_log import read_metrics

TUXPAINT = Path("/usr/share/tuxpaint/stamps")


def link(categories: tuple[str, ...], folder: Path) -> Path:
    """A folder with one sub-folder (class) per category, of links to its stamps."""
    if not folder.exists():
        for name in categories:
            (folder / name).mkdir(parents=True)
            for stamp in sorted((TUXPAINT / name).rglob("*.png")):
                flat = "_".join(stamp.relative_to(TUXPAINT / name).parts)  # same names live in different folders
                (folder / name / flat).symlink_to(stamp)
    return folder


def run(name: str, settings: dict, out: Path, minutes: float) -> None:
    config = resolve_config({"resolution": 32, "log_every": 25, "sample_every": 250, "checkpoint_every": 100_000,
                             "max_minutes": minutes, "seed": 0, **settings})
    run_dir = out / name
    if run_dir.exists():
        shutil.rmtree(run_dir)
    with torch_threads(1):
        trainer = Trainer(config, run_dir, quiet=True)
        trainer.clock = time.process_time  # CPU time: fair on a busy machine
        result = trainer.run()
    print(f"\n## {name}: {result.step} steps in {minutes:g} CPU minutes")
    print("step | D(x) | D(G(z)) | diversity | class diversity")
    for record in read_metrics(run_dir / "metrics.jsonl"):
        if "event" in record:
            print(f"  EVENT step {record['step']}: {record['event']}: {record.get('message', '')}")
        elif "D/real_prob" in record:
            within = record.get("doctor/class_diversity")
            print(f"{record['step']} | {record['D/real_prob']:.2f} | {record['D/fake_prob']:.2f} | "
                  f"{record.get('doctor/diversity', float('nan')):.2f} | "
                  f"{'' if within is None else f'{within:.2f}'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--minutes", type=float, default=2.0, help="CPU minutes per run")
    parser.add_argument("--runs", nargs="+", default=["tuxpaint-conditional", "tuxpaint-animals", "digits-conditional"])
    args = parser.parse_args()
    three = link(("food", "town", "vehicles"), args.out / "data" / "three")
    animals = link(("animals",), args.out / "data" / "animals")
    settings = {"tuxpaint-conditional": {"data": str(three), "conditional": True},
                "tuxpaint-animals": {"data": str(animals / "animals")},
                "digits-conditional": {"data": "digits", "conditional": True}}
    for name in args.runs:
        run(name, settings[name], args.out, args.minutes)


if __name__ == "__main__":
    main()
