"""Which G and D architecture trains best in equal CPU time: every backbone side by side on four data sets.

    python benchmarks/architectures.py --out /tmp/arch                       # every row, data set and seed
    python benchmarks/architectures.py --out /tmp/arch --shard 0/2 &         # the same work split over 2 processes
    python benchmarks/architectures.py --out /tmp/arch --shard 1/2
    python benchmarks/architectures.py --out /tmp/arch --table               # the table of what has finished

Each (row, data set, seed) trains a fresh run for the same CPU time on one thread (the budget counts this
process's CPU seconds, so a busy machine does not shorten it) and is scored from its last checkpoint (EMA G):
- digits (32 px): share of 1,000 samples the independent digit classifier reads with p >= 0.9, and digits found;
- stacked digits (16 px, the PacGAN protocol): modes of 1,000 found in 26,000 samples, KL to uniform;
- shapes and a real folder (64 px): KID x 1000 between 1,000 samples and held-out real images, in the features of
  a small classifier trained on the data's own training images (metrics/data_classifier.py); the real folder is
  Debian's Tux Paint stamps (`sudo apt-get install tuxpaint-stamps-default`: ~800 drawings in 17 category
  folders), a quarter of each category held out. The floor is the KID of the real training images themselves.
Rows that bring their own recipe (r3gan, fastgan, msg, stylegan) keep it; every other row trains with one shared recipe
(hinge loss, spectral norm, no batch norm in D, Adam 4e-4 betas (0, 0.99), EMA 0.999), so only the architecture
changes between them. Results are appended to OUT/results-*.jsonl, so an interrupted benchmark picks up where it was.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from functools import partial
from pathlib import Path

import torch

from ganforge.config import resolve_config
from ganforge.images import to_uint8
from ganforge.inference.sampling import generate, latents, load_generator
from ganforge.metrics.digit_classifier import load_digit_classifier, read_digits
from ganforge.metrics.modes import read_stacked_modes, score_stacked_modes
from ganforge.runtime import torch_threads

sys.path.insert(0, str(Path(__file__).parent))
# the folders, scores and CPU-timed runs shared with own_images.py
from folder_scoring import (  # noqa: E402
    SAMPLES,
    FeatureSpace,
    add_run_options,
    record_run,
    take_shard,
    train_for_cpu_time,
)

SHARED_RECIPE = dict(preset="plain", loss="hinge", spectral_norm=True, d_batchnorm=False, ema_beta=0.999,
                     lr_g=4e-4, lr_d=4e-4, beta1=0.0, beta2=0.99)
OWN_RECIPE = dict(preset="plain", ema_beta=0.999)
ROWS: dict[str, dict] = {  # name -> (settings, recipe)
    "mlp-gan": dict(model="mlp-gan"),
    "dcgan": dict(model="dcgan"),
    "D pool": dict(model="dcgan", d_arch="pool"),
    "D vgg": dict(model="dcgan", d_arch="vgg"),
    "D inception": dict(model="dcgan", d_arch="inception"),
    "D resnet": dict(model="dcgan", d_arch="resnet"),
    "G+D resnet": dict(model="dcgan", g_arch="resnet", d_arch="resnet"),
    "r3gan": dict(model="r3gan"),
    "fastgan": dict(model="fastgan"),
    "msg": dict(model="msg"),
    "stylegan": dict(model="stylegan"),
}
OWN_RECIPE_ROWS = ("r3gan", "fastgan", "msg", "stylegan")
DATA = {"digits": 32, "stacked-digits": 16, "shapes": 64, "tuxpaint": 64}
MINUTES = {"digits": 1.0, "stacked-digits": 1.0, "shapes": 1.5, "tuxpaint": 1.5}
SAMPLE_SEED = 12345  # latents for scoring, never used in training


def score(data: str, run_dir: Path, space: FeatureSpace | None) -> dict:
    loaded = load_generator(run_dir)  # the EMA generator when the run keeps one
    if data == "stacked-digits":
        samples = generate(loaded.G, latents(26000, loaded.latent_dim, SAMPLE_SEED), batch_size=1000)
        result = score_stacked_modes(read_stacked_modes(load_digit_classifier().model, samples))
        return dict(modes=result.modes_captured, kl=result.kl_to_uniform)
    samples = generate(loaded.G, latents(SAMPLES, loaded.latent_dim, SAMPLE_SEED), batch_size=500)
    if data == "digits":
        report = read_digits(load_digit_classifier().model, samples)
        return dict(read=report.confident_fraction, digits=report.classes_found)
    assert space is not None
    return dict(kid=space.kid(space.features(torch.from_numpy(to_uint8(samples)))))


def train_one(row: str, data: str, seed: int, minutes: float, run_dir: Path, source: str) -> dict:
    settings = {**(OWN_RECIPE if row in OWN_RECIPE_ROWS else SHARED_RECIPE), **ROWS[row]}
    config = resolve_config({**settings, "data": source, "resolution": DATA[data], "seed": seed,
                             "max_minutes": minutes, "checkpoint_every": 100_000, "sample_every": 100_000})
    trainer, result, cpu = train_for_cpu_time(config, run_dir)
    return dict(steps=result.step, cpu_s=cpu, img_per_s=result.step * config.batch_size / cpu,
                g_params=sum(p.numel() for p in trainer.G.parameters()),
                d_params=sum(p.numel() for p in trainer.D.parameters()))


def done_keys(out: Path) -> set[tuple]:
    return {(r["row"], r["data"], r["seed"]) for r in read_results(out)}


def read_results(out: Path) -> list[dict]:
    """Every finished run once: a (row, data, seed) that two processes both ran counts the first time it was read."""
    runs: dict[tuple, dict] = {}
    for f in sorted(out.glob("results-*.jsonl")):
        for line in f.read_text().splitlines():
            record = json.loads(line)
            runs.setdefault((record["row"], record["data"], record["seed"]), record)
    return list(runs.values())


def _mean_sd(values: list[float], digits: int) -> str:
    if not values:
        return "-"
    if not all(math.isfinite(v) for v in values):  # KL of a histogram missing modes the data has
        return "inf"
    if len(values) == 1:  # no spread to show: say it is one run
        return f"{values[0]:.{digits}f} (1 seed)"
    return f"{statistics.fmean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def table(out: Path) -> str:
    results = [r for r in read_results(out) if "error" not in r]
    lines = ["| row | digits: read ≥0.9 % (digits found) | stacked: modes / KL | shapes 64 KID×1000 | "
             "Tux Paint 64 KID×1000 | img/s (digits) | G / D params (digits) | seeds |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for row in ROWS:
        mine = [r for r in results if r["row"] == row]
        if not mine:
            continue
        by = {d: [r for r in mine if r["data"] == d] for d in DATA}
        digits = by["digits"]
        read = _mean_sd([100 * r["read"] for r in digits], 1)
        found = "/".join(str(r["digits"]) for r in digits)
        stacked = by["stacked-digits"]
        modes = f"{_mean_sd([r['modes'] for r in stacked], 0)} / {_mean_sd([r['kl'] for r in stacked], 2)}"
        speed = _mean_sd([r["img_per_s"] for r in digits], 0)
        params = f"{digits[0]['g_params'] / 1e6:.2f}M / {digits[0]['d_params'] / 1e6:.2f}M" if digits else "-"
        seeds = max(len(v) for v in by.values())
        lines.append(f"| {row} | {read} ({found or '-'}) | {modes} | {_mean_sd([r['kid'] for r in by['shapes']], 2)} | "
                     f"{_mean_sd([r['kid'] for r in by['tuxpaint']], 2)} | {speed} | {params} | {seeds} |")
    errors = [r for r in read_results(out) if "error" in r]
    lines += [f"- {r['row']} on {r['data']} seed {r['seed']}: {r['error']}" for r in errors]
    notes = out / "notes.txt"
    if notes.exists():
        lines += ["", *dict.fromkeys(notes.read_text().splitlines())]  # each shard writes its folders' notes
    return "\n".join(lines)


def train_and_score(row: str, data: str, seed: int, minutes: float, run_dir: Path, source,
                    space: FeatureSpace | None) -> dict:
    record = train_one(row, data, seed, minutes, run_dir, source)
    with torch_threads(1):
        return record | score(data, run_dir, space)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_run_options(parser)
    parser.add_argument("--rows", nargs="+", default=list(ROWS), choices=list(ROWS), metavar="ROW")
    parser.add_argument("--data", nargs="+", default=list(DATA), choices=list(DATA))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--minutes", type=float, help="CPU minutes per run (default: 1 for digits, 1.5 at 64 px)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.table:
        print(table(args.out))
        return
    done = done_keys(args.out)  # read once, not once per run
    work, results = take_shard([(d, s, r) for d in args.data for s in args.seeds for r in args.rows], args.shard,
                               args.out)
    work = [w for w in work if (w[2], w[0], w[1]) not in done]
    spaces: dict[str, FeatureSpace] = {}
    for data, seed, row in work:
        if data in ("shapes", "tuxpaint") and data not in spaces:
            with torch_threads(1):
                spaces[data] = FeatureSpace(data, DATA[data], args.out)
            print(spaces[data].note, flush=True)
            with open(args.out / "notes.txt", "a") as handle:
                handle.write(spaces[data].note + "\n")
        source = spaces[data].source if data in spaces else data
        run_dir = args.out / "runs" / f"{data}-{row.replace(' ', '_').replace('+', '')}-seed{seed}"
        record: dict = dict(row=row, data=data, seed=seed)
        record_run(record, run_dir, results, partial(train_and_score, row, data, seed, args.minutes or MINUTES[data],
                                                     run_dir, source, spaces.get(data)))


if __name__ == "__main__":
    main()
