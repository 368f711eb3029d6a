"""`ganforge sample`: images from a trained run."""

from __future__ import annotations

import argparse
from pathlib import Path

from ganforge.errors import GanforgeError


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("sample", help="generate images from a trained run",
                       description="OUT ending in .png writes a grid, .npy a uint8 (N, H, W, C) array, "
                                   "anything else a folder with one PNG per sample.")
    p.add_argument("run", type=Path, metavar="RUN_DIR_OR_CHECKPOINT")
    p.add_argument("-n", "--num", type=int, default=64, help="number of samples (default 64)")
    p.add_argument("-o", "--out", type=Path, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--truncation", type=float, default=1.0,
                   help="pull latents toward 0 by this factor: < 1 trades variety for quality (default 1: off)")
    p.add_argument("--no-ema", action="store_true", help="use the raw generator even if an EMA copy exists")
    p.add_argument("--device", default="cpu")
    return p


def run(args: argparse.Namespace) -> int:
    from ganforge.runtime import resolve_device
    from ganforge.sampling import generate, latents, load_generator, truncate, write_samples

    if args.num < 1:
        raise GanforgeError(f"-n must be a positive whole number, got {args.num}")
    loaded = load_generator(args.run, use_ema=not args.no_ema, device=str(resolve_device(args.device)))
    images = generate(loaded.G, truncate(latents(args.num, loaded.latent_dim, args.seed), args.truncation))
    out = write_samples(images, args.out)
    print(f"wrote {args.num} samples from step {loaded.step} to {out}")
    return 0
