"""Your own images: which preset draws closest to a real folder in equal CPU time (plain / recommended / auto).

    sudo apt-get install tuxpaint-stamps-default        # ~800 Tux Paint stamps in /usr/share/tuxpaint/stamps
    python benchmarks/own_images.py --out /tmp/own                          # every folder, size, recipe and seed
    python benchmarks/own_images.py --out /tmp/own --shard 0/2 &            # the same work over 2 processes
    python benchmarks/own_images.py --out /tmp/own --shard 1/2
    python benchmarks/own_images.py --out /tmp/own --table                  # the markdown table of finished runs

The folders (benchmarks/folder_scoring.py): `tuxpaint` (Debian's stamps: drawings of animals, food, vehicles, ...
in 17 category folders, mostly RGBA, every size; composited on white), `photos` (crops of the photographs that
scikit-image and scikit-learn ship; the held-out crops come from other photographs) and `shapes` (built in).
The photo folder is held out from choosing `--preset auto`'s rules: they were chosen on tuxpaint and shapes.

Each (folder, resolution, recipe, seed) trains a fresh run for the same CPU time on one thread (`--minutes`,
counted in this process's CPU seconds so other work on the machine does not shorten it) with only
`--max-minutes` as its length, as a person would, and is scored from its last checkpoint (the EMA G when the
run keeps one):
- KID x 1000 between 1,000 samples and the held-out real images, in the features of a small classifier trained
  only on that folder's training images (its category folders are the labels); lower is better, and the real
  training images themselves score the floor;
- real-vs-generated accuracy: a second small classifier learns real training images against 500 samples and is
  tested on held-out real images against 500 other samples; 50% means it cannot tell them apart;
- a sample grid of 64 images, OUT/grids/FOLDER-RES-RECIPE-seedN.png.
Results are appended to OUT/results-*.jsonl, so an interrupted benchmark picks up where it was.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from functools import partial
from pathlib import Path

import torch
from PIL import Image

from ganforge.config import resolve_config
from ganforge.images import save_grid, to_uint8
from ganforge.inference.sampling import generate, latents, load_generator
from ganforge.runtime import torch_threads

sys.path.insert(0, str(Path(__file__).parent))
# the folders, scores and CPU-timed runs shared with architectures.py
from folder_scoring import (  # noqa: E402
    SAMPLES,
    FeatureSpace,
    add_run_options,
    record_run,
    take_shard,
    train_for_cpu_time,
)

FOLDERS = ("tuxpaint", "photos", "shapes")
RECIPES = ("plain", "recommended", "auto")
SAMPLE_SEED, TEST_SEED = 12345, 54321  # latents for scoring, never used in training


def train_one(folder: str, resolution: int, recipe: str, seed: int, minutes: float, run_dir: Path,
              source: str) -> dict:
    config = resolve_config({"data": source, "resolution": resolution, "preset": recipe, "seed": seed,
                             "max_minutes": minutes, "threads": 1})
    trainer, result, cpu = train_for_cpu_time(config, run_dir)
    auto_note = run_dir / "auto.txt"
    return dict(model=config.model, steps=result.step, cpu_s=cpu, img_per_s=result.step * config.batch_size / cpu,
                auto=auto_note.read_text().strip() if auto_note.exists() else None)


def score(run_dir: Path, space: FeatureSpace, grid_path: Path) -> dict:
    loaded = load_generator(run_dir)  # the EMA generator when the run keeps one
    with torch_threads(1):
        samples = generate(loaded.G, latents(SAMPLES, loaded.latent_dim, SAMPLE_SEED), batch_size=250)
        others = generate(loaded.G, latents(SAMPLES // 2, loaded.latent_dim, TEST_SEED), batch_size=250)
        save_grid(grid_path, samples[:64], nrow=8)
        fake = torch.from_numpy(to_uint8(samples))
        kid = space.kid(space.features(fake))
        accuracy = space.real_vs_generated(fake[:SAMPLES // 2], torch.from_numpy(to_uint8(others)))
    return dict(kid=kid, real_vs_generated=accuracy)


def read_results(out: Path) -> list[dict]:
    return [json.loads(line) for f in sorted(out.glob("results-*.jsonl")) for line in f.read_text().splitlines()]


def _mean_sd(values: list[float], digits: int) -> str:
    if not values:
        return "-"
    if len(values) == 1:  # one seed: no spread to show
        return f"{values[0]:.{digits}f}"
    return f"{statistics.fmean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def table(out: Path) -> str:
    """One row per (folder, resolution, recipe): KID x1000 and real-vs-generated accuracy, mean ± sd over seeds."""
    unique = {(r["folder"], r["resolution"], r["recipe"], r["seed"]): r for r in read_results(out)}
    results = [r for r in unique.values() if "error" not in r]  # a run done twice (overlapping shards) counts once
    lines = ["| folder | px | recipe | model | KID×1000 | real-vs-generated accuracy % | steps | seeds |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for folder in FOLDERS:
        for resolution in sorted({r["resolution"] for r in results if r["folder"] == folder}):
            rows = {recipe: [r for r in results if (r["folder"], r["resolution"], r["recipe"]) ==
                             (folder, resolution, recipe)] for recipe in RECIPES}
            means = {k: statistics.fmean(r["kid"] for r in v) for k, v in rows.items() if v}
            for recipe, mine in rows.items():
                if not mine:
                    continue
                best = "**" if means[recipe] == min(means.values()) else ""
                lines.append(f"| {folder} | {resolution} | {recipe} | {mine[0]['model']} | "
                             f"{best}{_mean_sd([r['kid'] for r in mine], 1)}{best} | "
                             f"{_mean_sd([100 * r['real_vs_generated'] for r in mine], 1)} | "
                             f"{statistics.fmean(r['steps'] for r in mine):.0f} | {len(mine)} |")
    errors = [r for r in read_results(out) if "error" in r]
    lines += [f"- {r['folder']} {r['resolution']} px {r['recipe']} seed {r['seed']}: {r['error']}" for r in errors]
    notes = out / "notes.txt"
    if notes.exists():
        lines += ["", *sorted(set(notes.read_text().splitlines()))]
    return "\n".join(lines)


def train_and_score(folder: str, resolution: int, recipe: str, seed: int, minutes: float, run_dir: Path,
                    space: FeatureSpace, grid: Path) -> dict:
    return train_one(folder, resolution, recipe, seed, minutes, run_dir, space.source) | score(run_dir, space, grid)


def strip(out: Path, names: list[str], resolution: int, path: Path, pad: int = 2) -> None:
    """One picture of the first row (8 samples) of each named run's grid, one run under the other, for the docs."""
    found = [name for name in names if (out / "grids" / f"{name}.png").exists()]
    if not found:
        raise SystemExit(f"{out / 'grids'}: no grids of those runs yet")
    grids = [Image.open(out / "grids" / f"{name}.png") for name in found]
    row = resolution + pad  # each row's top border is the previous row's bottom one
    picture = Image.new(grids[0].mode, (grids[0].width, row * len(grids) + pad))
    for i, grid in enumerate(grids):
        picture.paste(grid.crop((0, 0, grid.width, row + pad)), (0, i * row))
    path.parent.mkdir(parents=True, exist_ok=True)
    if picture.mode == "RGB":  # 128 colours: a third of the bytes, and the docs' pictures stay small
        picture = picture.quantize(colors=128, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    picture.save(path, optimize=True)
    print(f"{path}: top to bottom {', '.join(found)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_run_options(parser)
    parser.add_argument("--data", nargs="+", default=list(FOLDERS), choices=FOLDERS)
    parser.add_argument("--resolutions", nargs="+", type=int, default=[64, 128], choices=[64, 128])
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=RECIPES)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--minutes", type=float, default=20.0, help="CPU minutes per run (one thread)")
    parser.add_argument("--strip", type=Path, help="write the first row of each selected run's grid to this PNG "
                        "(recipe by recipe, seed by seed) and stop")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.table:
        print(table(args.out))
        return
    if args.strip:
        names = [f"{d}-{px}-{r}-seed{s}" for d in args.data for px in args.resolutions for r in args.recipes
                 for s in args.seeds]
        strip(args.out, names, args.resolutions[0], args.strip)
        return
    done = {(r["folder"], r["resolution"], r["recipe"], r["seed"]) for r in read_results(args.out)}
    work = [(d, px, s, r) for px in args.resolutions for d in args.data for s in args.seeds for r in args.recipes]
    work, results = take_shard(work, args.shard, args.out)
    work = [w for w in work if (w[0], w[1], w[3], w[2]) not in done]
    spaces: dict[tuple[str, int], FeatureSpace] = {}
    for folder, resolution, seed, recipe in work:
        key = (folder, resolution)
        if key not in spaces:
            with torch_threads(1):
                spaces[key] = FeatureSpace(folder, resolution, args.out)
            print(spaces[key].note, flush=True)
            with open(args.out / "notes.txt", "a") as handle:
                handle.write(spaces[key].note + "\n")
        name = f"{folder}-{resolution}-{recipe}-seed{seed}"
        run_dir = args.out / "runs" / name
        record: dict = dict(folder=folder, resolution=resolution, recipe=recipe, seed=seed, minutes=args.minutes)
        grid = args.out / "grids" / f"{name}.png"
        record_run(record, run_dir, results, partial(train_and_score, folder, resolution, recipe, seed, args.minutes,
                                                     run_dir, spaces[key], grid))


if __name__ == "__main__":
    main()
