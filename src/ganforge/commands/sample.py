"""`ganforge sample`: images from a trained run."""

from __future__ import annotations

import argparse
from pathlib import Path

from ganforge.config.ranges import SAMPLE_COUNT, SEED, TRUNCATION, check_number
from ganforge.errors import GanforgeError


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("sample", help="generate images from a trained run",
                       description="OUT ending in .png writes a grid, .npy a uint8 (N, H, W, C) array, "
                                   "anything else a folder with one PNG per sample.")
    p.add_argument("run", type=Path, metavar="RUN_DIR_OR_CHECKPOINT")
    p.add_argument("-n", "--num", type=int, default=64,
                   help="number of samples (default 64); with --class or --category, samples per class or "
                        "category")
    p.add_argument("--class", dest="classes", action="append", metavar="NAME|INDEX",
                   help="class-conditional runs (--conditional): the labelled class to draw (repeat for several; "
                        "default: every class, one grid row each)")
    p.add_argument("--category", dest="categories", action="append", metavar="K",
                   help="InfoGAN runs (--latent-classes, e.g. the recommended digits): the latent category to draw, "
                        "a number G gave its own meaning, not a labelled class (repeat for several; default: drawn "
                        "in the data's proportions)")
    p.add_argument("-o", "--out", type=Path, required=True, help="a .png grid, a .npy array or a folder of PNGs")
    p.add_argument("--seed", type=int, default=0, help="the same seed draws the same images (default 0)")
    p.add_argument("--truncation", type=float, default=1.0,
                   help="pull latents toward 0 by this factor: < 1 trades variety for quality (default 1: off)")
    p.add_argument("--no-ema", action="store_true", help="use the raw generator even if an EMA copy exists")
    p.add_argument("--device", default="cpu", help="cpu, cuda, mps or auto (default cpu)")
    return p


def run(args: argparse.Namespace) -> int:
    from ganforge.inference.sampling import load_generator, sample_images, write_samples
    from ganforge.runtime import resolve_device

    check_number("-n", args.num, SAMPLE_COUNT)
    rows = len(args.classes or []) + len(args.categories or [])
    if args.num * max(1, rows) > SAMPLE_COUNT.high:  # -n is per class or category named
        raise GanforgeError(f"-n {args.num} for each of {rows} classes or categories makes {args.num * rows:,} "
                            f"samples; at most {SAMPLE_COUNT.high:,} in all")
    check_number("--seed", args.seed, SEED)
    check_number("--truncation", args.truncation, TRUNCATION)
    loaded = load_generator(args.run, use_ema=not args.no_ema, device=str(resolve_device(args.device)))
    images, per_row = sample_images(loaded, args.num, args.seed, args.classes, args.truncation,
                                    categories=args.categories)
    out = write_samples(images, args.out, nrow=per_row)
    print(f"wrote {len(images)} samples from step {loaded.step} to {out}")
    return 0
