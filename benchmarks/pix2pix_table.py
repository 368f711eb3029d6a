"""pix2pix's Table 1 on a built-in task: L1 alone, cGAN alone and L1 + cGAN, same steps, same seed.

Each variant trains the same U-Net/PatchGAN for the same number of steps; all are scored on the
task's held-out pairs: L1, PSNR, SSIM (closeness to the one target) and sharpness (variance of the
Laplacian; "vs target" is the ratio to the targets' own). On edges2digits the independent digit
classifier also reads the outputs: the share read as the digit the edges came from, with p >= 0.9
(our stand-in for the paper's FCN-score). Target (issue 4): L1 + cGAN measurably sharper than L1
alone with PSNR/SSIM within a small margin.

    python benchmarks/pix2pix_table.py --task edges2digits --steps 1500 --out runs/bench-pix2pix
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from ganforge.config import TrainConfig
from ganforge.images import from_uint8, save_grid
from ganforge.inference.translate import load_translator
from ganforge.metrics.paired import evaluate_run, format_scores, heldout_pairs
from ganforge.recipes.pix2pix import as_rgb
from ganforge.training.loop import train

VARIANTS = {"L1": dict(adversarial_weight=0.0), "cGAN": dict(l1_weight=0.0), "L1+cGAN": {}}
PICTURE_COLUMNS = 8


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@torch.no_grad()
def digit_reading(run: Path) -> float:
    """Share of held-out outputs the digit classifier reads, with p >= 0.9, as the digit the edges came from."""
    from ganforge.metrics.digit_classifier import load_digit_classifier

    translator = load_translator(run)
    pairs = heldout_pairs(translator.config)
    digits = torch.tensor([int(name.rsplit("-", 1)[1]) for name in pairs.names])
    outputs = translator.G(from_uint8(pairs.inputs)).float()
    probs = load_digit_classifier().model(outputs).softmax(1)
    confidence, read = probs.max(1)
    return ((read == digits) & (confidence >= 0.9)).float().mean().item()


@torch.no_grad()
def picture(runs: dict[str, Path], out: Path) -> None:
    """Rows: held-out inputs, the L1 outputs, the L1+cGAN outputs, the targets."""
    first = load_translator(runs["L1+cGAN"])
    pairs = heldout_pairs(first.config)
    index = torch.linspace(0, len(pairs) - 1, PICTURE_COLUMNS).long()
    source, target = from_uint8(pairs.inputs[index]), from_uint8(pairs.targets[index])
    channels = max(source.shape[1], target.shape[1])
    rows = [as_rgb(source, channels)]
    for name in ("L1", "L1+cGAN"):
        rows.append(as_rgb(load_translator(runs[name]).G(source).float(), channels))
    rows.append(as_rgb(target, channels))
    images = torch.cat(rows)
    scale = max(1, 64 // images.shape[-1])  # small images: enlarged (nearest neighbour) to be seen
    save_grid(out, F.interpolate(images, scale_factor=scale, mode="nearest"), nrow=PICTURE_COLUMNS)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="edges2digits")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--width", type=int, default=32, help="g_width and d_width")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--patch-size", type=int, default=34)
    parser.add_argument("--resolution", type=int)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("runs/bench-pix2pix"))
    parser.add_argument("--picture", type=Path, help="also write input / L1 / L1+cGAN / target rows here")
    parser.add_argument("--reuse", action="store_true", help="score the runs already in --out")
    parser.add_argument("--only", choices=list(VARIANTS), help="train and score just this variant (to run the "
                        "three in parallel processes; then --reuse for the table)")
    args = parser.parse_args()

    results, runs = {}, {}
    for name, overrides in VARIANTS.items():
        if args.only and name != args.only:
            continue
        run = args.out / name.replace("+", "-")
        runs[name] = run
        timing = {}
        if not args.reuse:
            shutil.rmtree(run, ignore_errors=True)
            config = TrainConfig(model="pix2pix", data=args.task, resolution=args.resolution, total_steps=args.steps,
                                 g_width=args.width, d_width=args.width, batch_size=args.batch_size,
                                 patch_size=args.patch_size, sample_every=500, checkpoint_every=args.steps,
                                 seed=args.seed, **overrides)
            wall, cpu = time.monotonic(), cpu_seconds()
            if train(config, run, quiet=True).status != "done":
                print(f"{name}: training was interrupted; stopping", file=sys.stderr)
                return 1
            timing = {"train_wall_s": time.monotonic() - wall, "train_cpu_s": cpu_seconds() - cpu}
        results[name] = {**evaluate_run(run), **timing}
        if args.task == "edges2digits":
            results[name]["digits_read"] = digit_reading(run)
        print(f"{name}: done", {k: round(v, 4) for k, v in results[name].items() if isinstance(v, float)}, flush=True)

    if args.only:
        return 0
    print(f"\n{args.task}, {args.steps} steps each, held-out pairs: {results['L1']['pairs']}")
    print(format_scores(results))
    if args.task == "edges2digits":
        print("digits read as their source digit (p >= 0.9): "
              + ", ".join(f"{name} {r['digits_read']:.1%}" for name, r in results.items()))
    try:
        from ganforge.metrics import kid  # noqa: F401  (lands with the metrics issue)
    except ImportError:
        print("KID/FID: pending (ganforge.metrics.kid is not in this tree yet)")
    (args.out / "table.json").write_text(json.dumps(results, indent=2) + "\n")
    if args.picture:
        picture(runs, args.picture)
    return 0


if __name__ == "__main__":
    sys.exit(main())
