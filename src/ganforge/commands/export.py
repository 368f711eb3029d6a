"""`ganforge export`: a run's generator as ONNX or TorchScript, checked against PyTorch."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("export",
                       help="export a run's generator (noise, class-conditional, pix2pix or one cyclegan direction) "
                            "to ONNX or TorchScript",
                       description="Writes a file with a dynamic batch dimension, after checking that it "
                                   "reproduces PyTorch's output (max abs difference < 1e-4) for batches 1 and 5.")
    p.add_argument("run", type=Path, metavar="RUN_DIR_OR_CHECKPOINT")
    p.add_argument("-o", "--out", type=Path, required=True, help="output file (.onnx or .pt)")
    p.add_argument("--format", choices=["onnx", "torchscript"], default=None,
                   help="default: from the output's suffix (.onnx -> onnx, .pt -> torchscript)")
    p.add_argument("--no-ema", action="store_true", help="export the raw generator even if an EMA copy exists")
    p.add_argument("--direction", choices=("AtoB", "BtoA"), help="cyclegan runs: which generator (default AtoB)")
    return p


def run(args: argparse.Namespace) -> int:
    from ganforge.inference.export import export_generator

    result = export_generator(args.run, args.out, args.format, use_ema=not args.no_ema, direction=args.direction)
    print(f"wrote {result.path} ({result.format}): {result.describe()} -> images (batch, "
          f"{', '.join(map(str, result.output_shape))}) "
          f"in [-1, 1]; max abs difference vs PyTorch {result.max_abs_diff:.2e} "
          f"(batches {', '.join(map(str, result.batches))})")
    if result.categories is not None:
        print(f"InfoGAN: the first dims of z choose the category (their argmax); the data's proportions, which "
              f"`ganforge sample` draws by: {result.categories}")
    return 0
