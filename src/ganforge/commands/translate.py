"""`ganforge translate`: run a trained pix2pix generator on images of any size."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("translate", help="translate images with a trained pix2pix run",
                       description="Each input (an image, or a folder searched recursively) is translated at its "
                                   "own size: padded to the network's stride, then cropped back.")
    p.add_argument("run", type=Path, metavar="RUN_DIR_OR_CHECKPOINT")
    p.add_argument("inputs", type=Path, nargs="+", metavar="INPUT")
    p.add_argument("-o", "--out", type=Path, required=True, help="a .png for one input image, else a folder")
    p.add_argument("--no-ema", action="store_true", help="use the raw generator even if an EMA copy exists")
    p.add_argument("--device", default="cpu", help="cpu, cuda, mps or auto (default cpu)")
    return p


def run(args: argparse.Namespace) -> int:
    from ganforge.inference.translate import translate_files
    from ganforge.runtime import resolve_device

    written = translate_files(args.run, args.inputs, args.out, use_ema=not args.no_ema,
                              device=str(resolve_device(args.device)))
    where = written[0] if len(written) == 1 else args.out
    print(f"translated {len(written)} image(s) to {where}")
    return 0
