"""`ganforge translate`: run a trained pix2pix or CycleGAN generator on images of any size."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("translate", help="translate images with a trained pix2pix or cyclegan run",
                       description="Each input (an image, or a folder searched recursively) keeps its size: "
                                   "translated at it (padded to the network's stride, then cropped back), or with "
                                   "--scale train through the training size and back.")
    p.add_argument("run", type=Path, metavar="RUN_DIR_OR_CHECKPOINT")
    p.add_argument("inputs", type=Path, nargs="+", metavar="INPUT")
    p.add_argument("-o", "--out", type=Path, required=True, help="a .png for one input image, else a folder")
    p.add_argument("--no-ema", action="store_true", help="use the raw generator even if an EMA copy exists")
    p.add_argument("--direction", choices=("AtoB", "BtoA"),
                   help="cyclegan runs: which of the two generators (default AtoB)")
    p.add_argument("--scale", choices=("native", "train"), default="native",
                   help="native: translate at the input's own scale (a warning when it is far from the training "
                        "images'); train: scale the longer side to the training size, translate, scale back")
    p.add_argument("--device", default="cpu", help="cpu, cuda, mps or auto (default cpu)")
    return p


def run(args: argparse.Namespace) -> int:
    from ganforge.inference.translate import translate_files
    from ganforge.runtime import resolve_device

    written = translate_files(args.run, args.inputs, args.out, use_ema=not args.no_ema,
                              device=str(resolve_device(args.device)), direction=args.direction,
                              scale=args.scale)
    where = written[0] if len(written) == 1 else args.out
    print(f"translated {len(written)} image(s) to {where}")
    return 0
