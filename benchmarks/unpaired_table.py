"""Translation with all pairs, none, or a few: pix2pix vs CycleGAN vs semi-supervised CycleGAN at equal CPU time.

On a built-in task with a hidden ground truth, each variant trains for the same CPU-time budget on one
thread, then translates the task's held-out A images, scored against their true partners (L1, PSNR,
SSIM) and against the B domain as a whole (KID on the digit classifier's features):

* pix2pix-all    pix2pix on all the training pairs (the paired upper reference)
* pix2pix-few    pix2pix on the first --few of them (what the few pairs alone give; 10% by default)
* cyclegan       CycleGAN, no pairs (--paired-fraction 0)
* cyclegan-few   CycleGAN + the same few pairs (--paired-fraction: pix2pix's L1 on them, --paired-weight)

    python benchmarks/unpaired_table.py --task thick-digits --cpu-seconds 90 --seeds 0 1 2 \
        --out runs/bench-unpaired --picture docs/images/unpaired-example.png
    python benchmarks/unpaired_table.py --task mirror-digits --few 0.01 --variants pix2pix-few cyclegan-few \
        --generator unet --identity-weight 0 --paired-weight 100      # 15 pairs, the CycleGANs on U-Nets

Each run's folder names the settings that change it, so runs with other settings sit beside each other.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from ganforge.config import TrainConfig, resolve_config
from ganforge.data.inventory import natural_size
from ganforge.data.load import load_pairs
from ganforge.data.paired import make_pairs
from ganforge.images import from_uint8, save_grid
from ganforge.inference.translate import load_translator
from ganforge.metrics.paired import score_outputs, translate
from ganforge.metrics.unpaired import _kid, evaluate_unpaired_run, make_extractor
from ganforge.recipes.pix2pix import as_rgb
from ganforge.training.budget import train_for_budget

# name -> (model, which pairs it knows: all of them, the first --few of them, or none)
VARIANTS = {
    "pix2pix-all": ("pix2pix", "all"),
    "pix2pix-few": ("pix2pix", "few"),
    "cyclegan": ("cyclegan", "none"),
    "cyclegan-few": ("cyclegan", "few"),
}
PICTURE_COLUMNS = 8


def label(name: str, few: float) -> str:
    model, pairs = VARIANTS[name]
    known = {"all": "all pairs", "few": f"{few:.0%} pairs", "none": "no pairs"}[pairs]
    if model == "pix2pix":
        return f"pix2pix, {known}"
    return f"CycleGAN + {known}" if pairs == "few" else f"CycleGAN, {known}"


def run_folder(args: argparse.Namespace, seed: int, name: str) -> Path:
    """Where a variant's run goes: the folder names the settings that change it."""
    model, pairs = VARIANTS[name]
    tag = name + (f"-{args.few:g}" if pairs == "few" else "")
    if model == "cyclegan":
        tag += f"-{args.generator}-c{args.cycle_weight:g}-i{args.identity_weight:g}"
        tag += f"-p{args.paired_weight:g}" if pairs == "few" else ""
    return args.out / args.task / f"seed{seed}" / tag


def train_variant(name: str, args: argparse.Namespace, seed: int, run: Path) -> float:
    """Train one variant for the CPU budget; the CPU seconds it used."""
    model, pairs = VARIANTS[name]
    common = dict(model=model, data=args.task, resolution=args.resolution, g_width=args.width, d_width=args.width,
                  batch_size=args.batch_size, patch_size=args.patch_size, max_minutes=args.cpu_seconds / 60,
                  sample_every=10**6, checkpoint_every=10**6, log_every=50, seed=seed, threads=1, device="cpu")
    if model == "cyclegan":
        common.update(generator=args.generator, cycle_weight=args.cycle_weight, paired_weight=args.paired_weight,
                      identity_weight=args.identity_weight, paired_fraction=args.few if pairs == "few" else 0.0)
        if args.generator == "resnet":
            common["resnet_blocks"] = args.resnet_blocks
    config = resolve_config(TrainConfig(**common))
    dataset = None
    if model == "pix2pix" and pairs == "few":  # the same first --few of the pairs the semi-supervised run knows
        known = load_pairs(args.task, config.resolution, config.channels, quiet=True)
        keep = round(args.few * len(known))
        dataset = make_pairs(known.inputs[:keep], known.targets[:keep], known.names[:keep],
                             known.name)
    _, spent = train_for_budget(config, run, dataset=dataset)
    return spent


def score(run: Path, extractor: Any) -> dict[str, Any]:
    """A -> B on the held-out images: L1/PSNR/SSIM vs the hidden partners, KID vs the held-out B images."""
    translator = load_translator(run)
    if translator.both is not None:
        result = evaluate_unpaired_run(run)["AtoB"]
        return {k: result[k] for k in ("l1", "psnr", "ssim", "sharpness_ratio", "kid", "cycle_l1")}
    cfg = translator.config
    return score_translator(translator.G, cfg["data"], cfg["resolution"], cfg["channels"], extractor)


class Untranslated(torch.nn.Module):
    """Each input as it is; a grey input repeated into the target's colour channels (gray2color)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x if x.shape[1] == self.channels else x[:, :1].expand(-1, self.channels, -1, -1)


def score_translator(G: torch.nn.Module, task: str, resolution: int, channels: int, extractor: Any) -> dict[str, Any]:
    """L1/PSNR/SSIM/sharpness of G on the task's held-out pairs, and KID of its outputs vs the true partners."""
    pairs = load_pairs(task, resolution, channels, split="heldout", quiet=True)
    outputs = translate(G, pairs.inputs)
    result = score_outputs(outputs, pairs.targets)
    result["kid"] = _kid(extractor, from_uint8(pairs.targets), outputs)
    return {k: result[k] for k in ("l1", "psnr", "ssim", "sharpness_ratio", "kid")}


@torch.no_grad()
def picture(runs: dict[str, Path], task: str, out: Path) -> None:
    """Rows: held-out inputs, each variant's translations, the true partners."""
    first = load_translator(next(iter(runs.values())))
    cfg = first.config
    pairs = load_pairs(task, cfg["resolution"], cfg["channels"], split="heldout", quiet=True)
    index = torch.linspace(0, len(pairs) - 1, PICTURE_COLUMNS).long()
    source, target = from_uint8(pairs.inputs[index]), from_uint8(pairs.targets[index])
    channels = max(source.shape[1], target.shape[1])
    rows = [as_rgb(source, channels)]
    rows += [as_rgb(load_translator(run).G(source).float(), channels) for run in runs.values()]
    rows.append(as_rgb(target, channels))
    images = torch.cat(rows)
    scale = max(1, 64 // images.shape[-1])
    out.parent.mkdir(parents=True, exist_ok=True)
    save_grid(out, F.interpolate(images, scale_factor=scale, mode="nearest"), nrow=PICTURE_COLUMNS)


def summary(results: dict[str, list[dict[str, Any]]], few: float) -> str:
    keys = ("l1", "psnr", "ssim", "kid")
    lines = ["| variant | L1 | PSNR dB | SSIM | KID (digit features) | CPU s per run |",
             "| --- | --- | --- | --- | --- | --- |"]
    for name, rows in results.items():
        cells = []
        for key in keys:
            values = [r[key] for r in rows]
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            digits = 2 if key == "psnr" else 4 if key in ("l1", "kid") else 3
            cells.append(f"{statistics.mean(values):.{digits}f} ± {spread:.{digits}f}")
        cpu = statistics.mean(r["cpu_s"] for r in rows)
        lines.append(f"| {label(name, few)} | {' | '.join(cells)} | {cpu:.0f} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="thick-digits")
    parser.add_argument("--cpu-seconds", type=float, default=90.0, help="each run's CPU-time budget (one thread)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--width", type=int, default=16, help="g_width and d_width")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--patch-size", type=int, default=34)
    parser.add_argument("--resnet-blocks", type=int, default=6)
    parser.add_argument("--generator", choices=("resnet", "unet"), default="resnet", help="the CycleGANs' generators")
    parser.add_argument("--cycle-weight", type=float, default=10.0)
    parser.add_argument("--paired-weight", type=float, default=10.0)
    parser.add_argument("--identity-weight", type=float, default=0.5)
    parser.add_argument("--few", type=float, default=0.1, help="the share of the pairs known to the semi-supervised "
                        "run, and all that the few-pairs pix2pix gets")
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--out", type=Path, default=Path("runs/bench-unpaired"))
    parser.add_argument("--picture", type=Path, help="write inputs / each variant / targets rows (first seed)")
    parser.add_argument("--reuse", action="store_true", help="use the runs (and scores) already in --out: to run "
                        "seeds in parallel processes, then gather them in one table")
    args = parser.parse_args()
    torch.set_num_threads(1)

    extractor = make_extractor("digits")
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in args.variants}
    table = args.out / args.task / "table.json"
    for seed in args.seeds:
        for name in args.variants:
            run = run_folder(args, seed, name)
            done = args.reuse and (run / "cpu.json").is_file()
            spent = json.loads((run / "cpu.json").read_text())["cpu_s"] if done else None
            if spent is None:
                spent = train_variant(name, args, seed, run)
                (run / "cpu.json").write_text(json.dumps({"cpu_s": spent}) + "\n")
            cached = run / "score.json"  # --reuse: the scores already computed (seeds run in parallel processes)
            scores = json.loads(cached.read_text()) if args.reuse and cached.is_file() else score(run, extractor)
            cached.write_text(json.dumps(scores) + "\n")
            row = {**scores, "cpu_s": spent, "seed": seed}
            results[name].append(row)
            print(f"{args.task} seed {seed} {name}:", {k: round(v, 4) for k, v in row.items()}, flush=True)
            table.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\n{args.task}, {args.cpu_seconds:.0f} CPU s per run (1 thread), seeds {args.seeds}, mean ± sd:")
    print(summary(results, args.few))
    # leaving each held-out input as it is: how far apart the two sides start
    channels = natural_size(args.task)[1]
    baseline = score_translator(Untranslated(channels), args.task, args.resolution, channels, extractor)
    print("the untranslated input:", {key: round(value, 4) for key, value in baseline.items()})
    if args.picture:
        picture({name: run_folder(args, args.seeds[0], name) for name in args.variants}, args.task,
                args.picture)
    return 0


if __name__ == "__main__":
    sys.exit(main())
