"""`ganforge interpolate`: an animated walk through latent space."""

from __future__ import annotations

import argparse
from pathlib import Path

from ganforge.config.ranges import TRUNCATION, check_interpolation, check_number
from ganforge.errors import GanforgeError


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("interpolate", help="animate a walk through latent space (GIF)")
    p.add_argument("run", type=Path, metavar="RUN_DIR_OR_CHECKPOINT")
    p.add_argument("-o", "--out", type=Path, required=True, help="output .gif")
    p.add_argument("--walks", type=int, default=8, help="parallel walks shown side by side (default 8)")
    p.add_argument("--points", type=int, default=4, help="random latent points visited per walk (default 4)")
    p.add_argument("--frames", type=int, default=16, help="frames between two points (default 16)")
    p.add_argument("--fps", type=int, default=12, help="frames per second of the .gif (default 12)")
    p.add_argument("--seed", type=int, default=0, help="the same seed walks through the same points (default 0)")
    p.add_argument("--truncation", type=float, default=1.0,
                   help="pull the points toward the mean latent (w for --model stylegan) by this factor (default 1: "
                        "off)")
    p.add_argument("--latents", type=Path, metavar="FILE.npy",
                   help="one walk through these latents (from `ganforge project`), then random points up to --points")
    return p


def run(args: argparse.Namespace) -> int:
    from ganforge.api import load

    if args.out.suffix.lower() != ".gif":
        raise GanforgeError(f"-o {args.out}: interpolation writes an animated .gif")
    check_interpolation(args.walks, args.points, args.frames, args.fps, args.seed)  # before the run is loaded
    check_number("--truncation", args.truncation, TRUNCATION)
    shown = load(args.run).interpolate(args.walks, args.points, args.frames, args.seed, out=args.out, fps=args.fps,
                                       truncation=args.truncation, latents=args.latents)
    print(f"wrote {len(shown)} frames to {args.out}")
    return 0
