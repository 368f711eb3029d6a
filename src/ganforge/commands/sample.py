"""`ganforge sample`: images from a trained run."""

from __future__ import annotations

import argparse
from pathlib import Path

from ganforge.config.ranges import SAMPLE_COUNT, SEED, TRUNCATION, check_number


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("sample", help="generate images from a trained run",
                       description="OUT ending in .png writes a grid, .npy a uint8 (N, H, W, C) array, "
                                   "anything else a folder with one PNG per sample.")
    p.add_argument("run", type=Path, metavar="RUN_DIR_OR_CHECKPOINT")
    p.add_argument("-n", "--num", type=int, default=64,
                   help="number of samples (default 64); with --class, samples per class")
    p.add_argument("--class", dest="classes", action="append", metavar="NAME|INDEX",
                   help="class-conditional runs: the class to draw (repeat for several; default: every class, "
                        "one grid row each); --latent-classes runs: the number of a latent category")
    p.add_argument("-o", "--out", type=Path, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--truncation", type=float, default=1.0,
                   help="pull latents toward 0 by this factor: < 1 trades variety for quality (default 1: off)")
    p.add_argument("--no-ema", action="store_true", help="use the raw generator even if an EMA copy exists")
    p.add_argument("--device", default="cpu")
    return p


def run(args: argparse.Namespace) -> int:
    from ganforge.api import load, save_grid

    check_number("-n", args.num, SAMPLE_COUNT)
    check_number("--seed", args.seed, SEED)
    check_number("--truncation", args.truncation, TRUNCATION)
    model = load(args.run, use_ema=not args.no_ema, device=args.device)
    labels, n, per_row = None, args.num, None
    if args.classes:  # -n of each class named, one grid row each
        labels, n, per_row = [c for c in args.classes for _ in range(args.num)], args.num * len(args.classes), args.num
    elif model.class_names:  # every class in turn, one grid row each
        per_row = -(-args.num // len(model.class_names))
    images = model.sample(n, args.seed, args.truncation, labels)
    out = save_grid(images, args.out, nrow=per_row)
    print(f"wrote {len(images)} samples from step {model.step} to {out}")
    return 0
