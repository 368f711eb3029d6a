"""`ganforge train`: flags are generated from TrainConfig's fields, so the two never drift apart."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path

from ganforge.config import TrainConfig, flag_name
from ganforge.errors import GanforgeError

LENGTH_FIELDS = {"total_steps", "epochs", "max_minutes"}
HELP = {
    "data": "a folder of images (searched recursively) or a built-in data set: digits, shapes; for pix2pix, "
            "a folder of pairs or a built-in task: edges2digits, masks2shapes, edges2photo, gray2color",
    "total_steps": "number of training steps (one D update + one G update each)",
    "max_minutes": "time budget; the run stops with a checkpoint when it is spent",
    "ema_beta": "keep an EMA copy of G for sampling (e.g. 0.999); 0 disables. Until step ~3/(1-beta) the "
                "average spans about the last third of the run (warm-up)",
    "lr_decay_start": "from this fraction of the run (e.g. 0.5) both learning rates fall linearly towards 0 "
                      "at the last step (with only --max-minutes: over the time budget)",
    "precision": "fp32, bf16, fp16 (loss-scaled; for GPUs without bf16) or auto (bf16 where the hardware has native "
                 "kernels, fp16 on older CUDA GPUs, else fp32)",
    "tensorboard": "also write scalars, sample grids and weight histograms to RUN/tensorboard",
    "nan_retries": "on NaN/inf, roll back to the last good checkpoint with halved learning rates, at most "
                   "this many times in a row",
    "conditional": "class-conditional GAN: labels from class sub-folders or a labelled built-in set",
    "direction": "pix2pix: AtoB or BtoA (which side of each pair is the input)",
    "l1_weight": "pix2pix: weight of the L1 loss (0: cGAN only)",
    "adversarial_weight": "pix2pix: weight of the cGAN loss (0: plain L1 U-Net)",
    "patch_size": "pix2pix: PatchGAN receptive field in px: 16, 34, 70, 142, 286",
    "random_crop": "pix2pix: random crops from pairs stored 1/8 larger, same place on both sides",
    "eval_every": "score G every N steps (FID, KID, ...) and keep checkpoints/best.pt; 0 = never",
    "eval_metric": "the score that picks best.pt: fid, kid, precision, recall, density, coverage, is",
    "aspect": "WIDTH:HEIGHT of the images, e.g. 2:1; the shorter side is --resolution (dcgan, msg, progressive, "
              "fastgan); images are cropped to it, never squashed",
    "stage_images": "progressive: training images per stage at full weight",
    "fade_images": "progressive: training images over which each new stage fades in",
    "threads": "CPU threads per process; 0 = PyTorch's default (one per core)",
    "sync_bn": "with several processes (torchrun), batch-norm statistics over the global batch",
    "preset": "where unset values come from: auto (recommended for 2D points and stacked-digits, plain "
              "otherwise), plain or recommended",
    "balance": "G/D balance policy: fixed, ttur, skip (skip D while its loss is low) or adaptive",
    "latent_classes": "InfoGAN: K categories in G's latent that D learns to tell apart from the image, so G "
                      "gives each its own kind of image (e.g. 10 for digits; no labels needed; 0 = off)",
    "info_weight": "InfoGAN: weight of the category-recognition loss",
    "upsample": "DCGAN G's upscaling: transpose (transposed convs), nearest (nearest + 3x3 conv) or subpixel "
                "(3x3 conv to 4x the channels + pixel shuffle; nearest's cost, a faster last layer)",
}


def _flag(name: str) -> str:
    return flag_name(name)


def _type_of(field: dataclasses.Field) -> type:
    annotation = str(field.type)
    for candidate in (bool, int, float, str):
        if candidate.__name__ in annotation:
            return candidate
    return str


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("train", help="train a GAN on a folder of images or a built-in data set",
                       description="Train a GAN. Defaults follow DCGAN: Adam 2e-4, betas (0.5, 0.999).",
                       argument_default=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, help="the run's own folder (created)")
    p.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue the run in RUN_DIR exactly")
    p.add_argument("--config", type=Path, help="a config.json to start from (flags override it)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    for field in dataclasses.fields(TrainConfig):
        kind = _type_of(field)
        default = field.default
        shown = default is not None and field.name != "preset"  # the preset's own default is "auto"
        help_text = HELP.get(field.name, "") + (f" (default: {default})" if shown else "")
        if kind is bool:
            p.add_argument(_flag(field.name), dest=field.name, action=argparse.BooleanOptionalAction,
                           help=help_text)
        else:
            p.add_argument(_flag(field.name), dest=field.name, type=kind, help=help_text)
    return p


def run(args: argparse.Namespace) -> int:
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig) if hasattr(args, f.name)}
    resume_dir = getattr(args, "resume", None)
    if resume_dir is not None:
        extra = sorted(_flag(k) for k in set(given) - LENGTH_FIELDS)
        if extra:
            raise GanforgeError("with --resume only --steps, --epochs and --max-minutes can change; "
                                f"drop {', '.join(extra)}")
        out_dir = resume_dir
    else:
        if getattr(args, "out", None) is None:
            raise GanforgeError("--out DIR is required: the folder where this run's files go")
        out_dir = args.out
    base = TrainConfig.load(args.config).to_dict() if getattr(args, "config", None) else {}
    from ganforge.config.presets import make_config

    config = make_config(given, base)
    if resume_dir is None:  # the small-data default and each architecture's own defaults (config/highres.py)
        from ganforge.config.highres import apply_model_defaults, small_data_choice

        config, choice = small_data_choice(config, set(base) | set(given))
        if choice:
            print(choice, file=sys.stderr)
        config = apply_model_defaults(config, set(base) | set(given))

    from ganforge.data.points import is_point_data
    from ganforge.runtime import torch_threads
    from ganforge.train import distributed
    from ganforge.train.loop import train

    try:
        with torch_threads(1 if is_point_data(config.data) else None):  # 2D MLPs: one thread is faster
            result = train(config, out_dir, resume=resume_dir is not None, quiet=getattr(args, "quiet", False))
    finally:
        distributed.stop()  # under torchrun: leave the process group before the interpreter exits
    if int(os.environ.get("RANK", "0")):  # under torchrun, rank 0 prints the summary
        return 130 if result.status == "interrupted" else 0
    if result.status == "interrupted":
        print(f"interrupted at step {result.step}; checkpoint saved to {result.checkpoint}. "
              f"Continue with: ganforge train --resume {out_dir}", file=sys.stderr)
        return 130
    why = " (time budget spent)" if result.status == "time budget" else ""
    print(f"stopped at step {result.step}{why}. Run folder: {out_dir}  "
          "(samples/, loss.png, report.html, checkpoints/latest.pt)")
    _report_heldout(out_dir, result.checkpoint)
    return 0


def _report_heldout(out_dir: Path, checkpoint: Path) -> None:
    """pix2pix runs end with their held-out scores (heldout.json), when their data has a held-out split."""
    import json

    from ganforge.checkpoint import load_checkpoint
    from ganforge.metrics.paired import evaluate_run, format_scores

    if load_checkpoint(checkpoint).get("recipe") != "pix2pix":
        return
    try:
        scores = evaluate_run(checkpoint)
    except GanforgeError as err:
        print(f"no held-out scores: {err}")
        return
    (Path(out_dir) / "heldout.json").write_text(json.dumps(scores, indent=2) + "\n")
    print(f"held-out scores on {scores['pairs']} pairs (also in heldout.json):")
    print(format_scores({"output": scores}))
