"""`ganforge project`: find the latent whose image matches a photo (inversion), for interpolate and mix."""

from __future__ import annotations

import argparse
from pathlib import Path

from ganforge.config.ranges import SEED, Range, check_number
from ganforge.errors import GanforgeError

STEPS = Range(1, 100_000)


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("project", help="find the latent whose image matches a photo (inversion)",
                       description="Writes OUT/reconstruction.png, OUT/latent.npy (w+ for --model stylegan, z "
                                   "otherwise: give it to `interpolate --latents` or `mix --latents`) and "
                                   "OUT/projection.gif (the photo beside the reconstruction as it improves).")
    p.add_argument("run", type=Path, metavar="RUN_DIR_OR_CHECKPOINT")
    p.add_argument("image", type=Path, help="the photo (cropped to the run's shape and resized)")
    p.add_argument("-o", "--out", type=Path, required=True, help="output folder")
    p.add_argument("--steps", type=int, default=300, help="optimisation steps (default 300)")
    p.add_argument("--space", choices=("w", "w+"), default="w",
                   help="stylegan: one w for every layer, or one per layer (closer, less regular) (default w)")
    p.add_argument("--seed", type=int, default=0, help="the same seed gives the same projection (default 0)")
    p.add_argument("--no-ema", action="store_true", help="use the raw generator even if an EMA copy exists")
    return p


def run(args: argparse.Namespace) -> int:
    from ganforge.inference.projection_files import project_file

    check_number("--steps", args.steps, STEPS)
    check_number("--seed", args.seed, SEED)
    if args.out.suffix:
        raise GanforgeError(f"-o {args.out}: give a folder; project writes three files into it")
    result, written = project_file(args.run, args.image, args.out, args.steps, args.space, args.seed,
                                   use_ema=not args.no_ema)
    print(f"projected {args.image} in {args.steps} steps: pixel error {result.pixel_error:.4f} (mean squared, "
          f"images in [-1, 1]); wrote {', '.join(str(p) for p in written)}")
    return 0
