"""`ganforge eval-translation`: score a pix2pix run on held-out pairs (L1, PSNR, SSIM, sharpness), or a CycleGAN run
in both directions (those where a ground truth exists, KID against the target domain, cycle error, the doctor)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("eval-translation", help="score a pix2pix or cyclegan run on held-out images",
                       description="L1, PSNR and SSIM against the targets, and sharpness (variance of the "
                                   "Laplacian) beside the targets' own. Default pairs: the held-out split of the "
                                   "run's data (built-in tasks; folders with val/ or test/ beside train/). "
                                   "cyclegan runs, in each direction: those where a partner is known, KID of the "
                                   "translations vs the target domain (and of the untranslated inputs), the cycle "
                                   "error, and a warning when the cycle works but the translations do not.")
    p.add_argument("run", type=Path, metavar="RUN_DIR_OR_CHECKPOINT")
    p.add_argument("--data", help="a folder of held-out pairs (or a data folder with val/ or test/)")
    p.add_argument("--json", type=Path, help="also write the scores to this JSON file")
    p.add_argument("--no-ema", action="store_true", help="use the raw generator even if an EMA copy exists")
    p.add_argument("--device", default="cpu", help="cpu, cuda, mps or auto (default cpu)")
    p.add_argument("--extractor", default="digits", help="cyclegan runs: KID's features (default digits: the "
                   "digit classifier, no download; inception-v3: the standard ones)")
    return p


def run(args: argparse.Namespace) -> int:
    from ganforge.checkpoint import load_checkpoint
    from ganforge.metrics.paired import evaluate_run, format_scores
    from ganforge.runtime import resolve_device

    if load_checkpoint(args.run).get("recipe") == "unpaired":
        from ganforge.metrics.unpaired import evaluate_unpaired_run, format_unpaired

        scores = evaluate_unpaired_run(args.run, args.data, use_ema=not args.no_ema,
                                       device=str(resolve_device(args.device)), extractor=args.extractor)
        print(f"held-out images from {scores['data']}, step {scores['step']} (KID features: {scores['extractor']})")
        print(format_unpaired(scores))
        if args.json:
            args.json.write_text(json.dumps(scores, indent=2) + "\n")
        return 0
    scores = evaluate_run(args.run, args.data, use_ema=not args.no_ema, device=str(resolve_device(args.device)))
    print(f"{scores['pairs']} held-out pairs from {scores['data']}, step {scores['step']}")
    print(format_scores({"output": scores}))
    if args.json:
        args.json.write_text(json.dumps(scores, indent=2) + "\n")
    return 0
