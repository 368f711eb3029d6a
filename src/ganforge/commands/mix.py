"""`ganforge mix`: the style-mixing grid of a style-based run (--model stylegan)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ganforge.config.ranges import SEED, TRUNCATION, Range, check_number
from ganforge.errors import GanforgeError

SIDE = Range(1, 16)  # rows or columns of the grid


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("mix", help="style-mixing grid: coarse styles from row seeds, fine from column seeds",
                       description="Top row: the column sources; left column: the row sources; each cell draws its "
                                   "coarse layers (layout, pose) from its row and the fine ones (colour, texture) "
                                   "from its column. For runs of --model stylegan.")
    p.add_argument("run", type=Path, metavar="RUN_DIR_OR_CHECKPOINT")
    p.add_argument("-o", "--out", type=Path, required=True, help="output .png")
    p.add_argument("--rows", type=int, default=4, help="row sources (default 4)")
    p.add_argument("--cols", type=int, default=4, help="column sources (default 4)")
    p.add_argument("--seed", type=int, default=0, help="rows use seed, seed+1, ...; columns follow them (default 0)")
    p.add_argument("--cutoff", type=int, help="style inputs taken from the row (default: those up to 8 px)")
    p.add_argument("--truncation", type=float, default=1.0, help="pull the styles toward the mean w (default 1: off)")
    p.add_argument("--latents", type=Path, metavar="FILE.npy",
                   help="row sources from these latents (from `ganforge project`) instead of seeds")
    p.add_argument("--no-ema", action="store_true", help="use the raw generator even if an EMA copy exists")
    return p


def run(args: argparse.Namespace) -> int:
    from ganforge.images import grid, save_png
    from ganforge.inference.sampling import load_generator
    from ganforge.inference.styles import mix_images

    if args.out.suffix.lower() != ".png":
        raise GanforgeError(f"-o {args.out}: the mixing grid is written as a .png")
    check_number("--rows", args.rows, SIDE)
    check_number("--cols", args.cols, SIDE)
    check_number("--seed", args.seed, SEED)
    check_number("--truncation", args.truncation, TRUNCATION)
    loaded = load_generator(args.run, use_ema=not args.no_ema)
    images, per_row = mix_images(loaded, args.rows, args.cols, args.seed, args.cutoff, args.truncation, args.latents)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_png(args.out, grid(images, per_row))
    print(f"wrote a {len(images) // per_row - 1}x{per_row - 1} style-mixing grid from step {loaded.step} to {args.out}")
    return 0
