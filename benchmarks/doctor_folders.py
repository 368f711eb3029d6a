"""Does the doctor speak on real folders, and stay quiet on a healthy run?

    sudo apt-get install tuxpaint-stamps-default      # Debian's Tux Paint stamps: ~800 drawings, 17 categories
    python benchmarks/doctor_folders.py --out /tmp/doctor-folders            # 3 runs of 2 CPU minutes, one thread

Runs, each with the default (plain) recipe at 32 px for the same CPU time, logging every 25 steps:
1. class-conditional on three Tux Paint categories (food, town, vehicles: 184 drawings);
2. unconditional on one category folder (animals: 146 drawings);
3. class-conditional on the built-in digits (the healthy reference: conditional DCGAN draws every digit on request).
For each it prints every log window's D(x), D(G(z)), overall and within-class spread (`doctor/diversity`,
`doctor/class_diversity`) and every doctor event, then a summary line. `--remedy NAME` (repeatable) runs each
again with one of the doctor's suggestions added, to see whether it works:

    python benchmarks/doctor_folders.py --out /tmp/doctor-folders --runs tuxpaint-conditional \
        --remedy none minibatch-std pack2 --seeds 0 1
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import time
from dataclasses import replace
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


# the doctor's suggestions (training/remedies.py), each alone; auto's recipe for these folders (below 64 px) already
# has hinge + spectral norm, ADA and an EMA, `--preset plain` only ADA
REMEDIES: dict[str, dict] = {"none": {}, "minibatch-std": {"minibatch_std": True}, "pack2": {"pack": 2},
                             "ema": {"ema_beta": 0.999}, "hinge-sn": {"loss": "hinge", "spectral_norm": True},
                             "no-d-batchnorm": {"d_batchnorm": False},
                             "half-lr-d": {"lr_d_scale": 0.5}, "r1": {"r1_gamma": 1.0}}


def run(name: str, settings: dict, out: Path, minutes: float, seed: int) -> str:
    """Train, print the log table and events; returns the summary line."""
    settings = dict(settings)  # the caller's dict serves every seed: take the scale out of a copy
    lr_d_scale = settings.pop("lr_d_scale", None)
    config = resolve_config({"resolution": 32, "log_every": 25, "sample_every": 250, "checkpoint_every": 100_000,
                             "max_minutes": minutes, "seed": seed, **settings})
    if lr_d_scale is not None:  # relative to the recipe's own rate, as the doctor's advice is
        config = replace(config, lr_d=config.lr_d * lr_d_scale).validate()
    run_dir = out / f"{name}-seed{seed}"
    if run_dir.exists():
        shutil.rmtree(run_dir)
    with torch_threads(1):
        trainer = Trainer(config, run_dir, quiet=True)
        trainer.clock = time.process_time  # CPU time: fair on a busy machine
        result = trainer.run()
    print(f"\n## {name} seed {seed}: {result.step} steps in {minutes:g} CPU minutes")
    print("step | D(x) | D(G(z)) | diversity | class diversity")
    records = read_metrics(run_dir / "metrics.jsonl")
    for record in records:
        if "event" in record:
            print(f"  EVENT step {record['step']}: {record['event']}: {record.get('message', '')}")
        elif "D/real_prob" in record:
            within = record.get("doctor/class_diversity")
            print(f"{record['step']} | {record['D/real_prob']:.2f} | {record['D/fake_prob']:.2f} | "
                  f"{record.get('doctor/diversity', float('nan')):.2f} | "
                  f"{'' if within is None else f'{within:.2f}'}")
    return summary(f"{name} seed {seed}", result.step, records)


def summary(title: str, steps: int, records: list[dict]) -> str:
    """Medians after the doctor's 200-step warm-up, and which problems the doctor reported."""
    late = [r for r in records if "D/real_prob" in r and r["step"] >= 200]
    events = sorted({r["event"] for r in records if "event" in r and r["event"] != "run_end"})

    def median(key: str) -> str:
        values = [r[key] for r in late if r.get(key) is not None]
        return f"{statistics.median(values):.2f}" if values else "-"

    gaps = [r["D/real_prob"] - r["D/fake_prob"] for r in late]
    gap = f"{statistics.median(gaps):.2f}" if gaps else "-"
    return (f"{title}: {steps} steps; after step 200 medians: D(x)-D(G(z)) {gap}, diversity "
            f"{median('doctor/diversity')}, class diversity {median('doctor/class_diversity')}; "
            f"doctor: {', '.join(events) or 'quiet'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--minutes", type=float, default=2.0, help="CPU minutes per run")
    parser.add_argument("--runs", nargs="+", default=["tuxpaint-conditional", "tuxpaint-animals", "digits-conditional"])
    parser.add_argument("--remedy", nargs="+", default=["none"], choices=sorted(REMEDIES))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--preset", default="auto", help="the recipe the remedies are added to")
    args = parser.parse_args()
    three = link(("food", "town", "vehicles"), args.out / "data" / "three")
    animals = link(("animals",), args.out / "data" / "animals")
    settings = {"tuxpaint-conditional": {"data": str(three), "conditional": True},
                "tuxpaint-animals": {"data": str(animals / "animals")},
                "digits-conditional": {"data": "digits", "conditional": True}}
    lines = []
    for name in args.runs:
        for remedy in args.remedy:
            title = f"{name}-{args.preset}" + ("" if remedy == "none" else f"+{remedy}")
            chosen = {**settings[name], "preset": args.preset, **REMEDIES[remedy]}
            lines += [run(title, chosen, args.out, args.minutes, seed) for seed in args.seeds]
    print("\n" + "\n".join(lines))


if __name__ == "__main__":
    main()
