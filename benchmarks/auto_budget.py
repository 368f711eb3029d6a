"""Which batch size and width `--preset auto` should train with for a time budget, on a real folder.

A shorter budget buys fewer steps; a smaller batch buys more of them for the same CPU time (FastGAN's authors
trained with batch 8, lightweight-gan defaults to 10; auto's FastGAN uses 64), and narrower networks make each
step cheaper (auto's FastGAN has widths 8). Each (folder, resolution, minutes, batch size, width, seed) trains
`--preset auto` with only `--max-minutes` as its length and that batch size and width (G and D), for the same
CPU time on one thread, and is scored as in benchmarks/own_images.py (KID x 1000 in the folder's own features,
real-vs-generated accuracy, a sample grid). Results: docs/own-images.md.

    python benchmarks/auto_budget.py --out /tmp/budget --data tuxpaint --minutes 5 --batch-sizes 16 32 64 \
        --seeds 0 1 [--shard 0/2]
    python benchmarks/auto_budget.py --out /tmp/widths --data tuxpaint --minutes 5 --batch-sizes 64 --widths 8 16
    python benchmarks/auto_budget.py --out /tmp/budget --table

Results are appended to OUT/results-*.jsonl, so an interrupted benchmark picks up where it was.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from functools import partial
from pathlib import Path

from ganforge.config import resolve_config
from ganforge.runtime import torch_threads

sys.path.insert(0, str(Path(__file__).parent))
from folder_scoring import FeatureSpace, add_run_options, record_run, take_shard, train_for_cpu_time  # noqa: E402
from own_images import FOLDERS, _mean_sd, read_results, score  # noqa: E402


def train_and_score(folder: str, resolution: int, minutes: float, batch: int, width: int | None, seed: int,
                    run_dir: Path, space: FeatureSpace, grid: Path) -> dict:
    widths = {} if width is None else {"g_width": width, "d_width": width}
    config = resolve_config({"data": space.source, "resolution": resolution, "preset": "auto", "seed": seed,
                             "max_minutes": minutes, "threads": 1, "batch_size": batch, **widths})
    _, result, cpu = train_for_cpu_time(config, run_dir)
    return dict(model=config.model, steps=result.step, cpu_s=cpu) | score(run_dir, space, grid)


def _key(record: dict) -> tuple:
    """(folder, resolution, minutes, batch, width, seed); width None: the model's own (older records have none)."""
    return (record["folder"], record["resolution"], record["minutes"], record["batch"], record.get("width"),
            record["seed"])


def table(out: Path) -> str:
    """One row per (folder, resolution, minutes, batch, width): KID x1000 and accuracy, mean ± sd over seeds."""
    unique = {_key(r): r for r in read_results(out)}
    results = [r for r in unique.values() if "error" not in r]
    lines = ["| folder | px | CPU minutes | batch | width | KID×1000 | real-vs-generated accuracy % | steps | seeds |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for key in sorted({(r["folder"], r["resolution"], r["minutes"]) for r in results}):
        group = [r for r in results if (r["folder"], r["resolution"], r["minutes"]) == key]
        for batch, width in sorted({(r["batch"], r.get("width") or 0) for r in group}):
            mine = [r for r in group if (r["batch"], r.get("width") or 0) == (batch, width)]
            lines.append(f"| {key[0]} | {key[1]} | {key[2]:g} | {batch} | {width or 'default'} | "
                         f"{_mean_sd([r['kid'] for r in mine], 1)} | "
                         f"{_mean_sd([100 * r['real_vs_generated'] for r in mine], 1)} | "
                         f"{statistics.fmean(r['steps'] for r in mine):.0f} | {len(mine)} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_run_options(parser)
    parser.add_argument("--data", nargs="+", default=["tuxpaint"], choices=FOLDERS)
    parser.add_argument("--resolution", type=int, default=64, choices=[64, 128])
    parser.add_argument("--minutes", nargs="+", type=float, default=[5.0], help="CPU minutes per run (one thread)")
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[16, 32, 64])
    parser.add_argument("--widths", nargs="+", type=int, default=[None],
                        help="G and D widths (default: the model's own)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.table:
        print(table(args.out))
        return
    done = {_key(r) for r in read_results(args.out)}
    work = [(d, args.resolution, m, b, w, s) for d in args.data for m in args.minutes for s in args.seeds
            for b in args.batch_sizes for w in args.widths]  # each item is its record's _key
    work, results = take_shard(work, args.shard, args.out)
    work = [w for w in work if w not in done]
    spaces: dict[str, FeatureSpace] = {}
    for folder, resolution, minutes, batch, width, seed in work:
        if folder not in spaces:
            with torch_threads(1):
                spaces[folder] = FeatureSpace(folder, resolution, args.out)
            print(spaces[folder].note, flush=True)
        name = f"{folder}-{resolution}-{minutes:g}min-b{batch}{'' if width is None else f'-w{width}'}-seed{seed}"
        record: dict = dict(folder=folder, resolution=resolution, minutes=minutes, batch=batch, width=width,
                            seed=seed)
        record_run(record, args.out / "runs" / name, results,
                   partial(train_and_score, folder, resolution, minutes, batch, width, seed,
                           args.out / "runs" / name, spaces[folder], args.out / "grids" / f"{name}.png"))


if __name__ == "__main__":
    main()
