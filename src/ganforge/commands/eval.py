"""`ganforge eval`: FID, KID, precision/recall, Inception Score and a memorisation check for a run."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("eval", help="score a run's generator against its data (FID, KID, precision/recall, ...)",
                       description="Scores the latest checkpoint (or every one with --all); appends each result with "
                                   "its provenance to RUN/metrics.jsonl and rewrites the table RUN/eval.md. "
                                   "Real-data features are cached per data set + extractor + resolution.")
    p.add_argument("run", type=Path, metavar="RUN_DIR_OR_CHECKPOINT")
    p.add_argument("--metrics", default="fid,kid",
                   help="comma-separated: fid, kid, pr (precision/recall/density/coverage), is (Inception Score), "
                        "memorisation (copies of training images; saves the closest pairs as a picture). "
                        "Default: fid,kid")
    p.add_argument("-n", "--num", type=int, default=10_000, help="generated samples (default 10000)")
    p.add_argument("--all", action="store_true", help="score every saved checkpoint, not only the latest")
    p.add_argument("--extractor", default=None,
                   help="inception-v3, digits, random (smoke tests only) or package.module:factory returning an "
                        "nn.Module (default: digits for the built-in digits, inception-v3 otherwise)")
    p.add_argument("--weights", default=None, help="a local FID Inception weights file (pt_inception-2015-12-05-"
                                                   "6726825d.pth); default: the torch hub cache, downloaded once")
    p.add_argument("--resize", default=None, choices=["pytorch-fid", "torch-fidelity"],
                   help="inception-v3's resize rule to 299 px (default pytorch-fid)")
    p.add_argument("--n-real", type=int, default=None, help="real images to compare with (default: all)")
    p.add_argument("--data", default=None, help="the real data, if not where the run's config says")
    p.add_argument("--seed", type=int, default=0, help="seed of the generated samples and the real subset (default 0)")
    p.add_argument("--no-ema", action="store_true", help="score the raw generator even if an EMA copy exists")
    p.add_argument("--no-cache", action="store_true", help="recompute the real-data features")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps (default auto)")
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16"],
                   help="feature extraction precision (recorded with every score). fp32 (default) matches other FID "
                        "implementations; bf16 is faster on hardware with native bf16 but moves the features slightly")
    p.add_argument("--threads", type=int, default=0, metavar="N",
                   help="CPU threads (default 0: the fastest count, found by timing the first feature batches)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def run(args: argparse.Namespace) -> int:
    from ganforge.metrics.evaluate import evaluate_checkpoints
    from ganforge.metrics.table import format_table

    records = evaluate_checkpoints(args.run, args.metrics, args.num, every=args.all, extractor=args.extractor,
                                   weights=args.weights, resize=args.resize, seed=args.seed, n_real=args.n_real,
                                   data=args.data, device=args.device, precision=args.precision,
                                   use_ema=not args.no_ema, cache=not args.no_cache, quiet=args.quiet,
                                   threads=args.threads)
    print(format_table(records), end="")
    return 0
