"""`ganforge stylize`: paint a photo in the style of one or more images (Gatys et al.)."""

from __future__ import annotations

import argparse
from pathlib import Path


def _names(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _numbers(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(part) for part in _names(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from ganforge.style.config import FEATURES, INITS, OPTIMIZERS, StyleConfig

    d = StyleConfig()
    p = sub.add_parser("stylize", help="neural style transfer: CONTENT painted in the style of STYLE",
                       description="Optimise an image so its CNN features match CONTENT and its feature "
                                   "correlations match the STYLE images (Gatys et al.), coarse to fine.")
    p.add_argument("content", type=Path, metavar="CONTENT")
    p.add_argument("styles", type=Path, nargs="+", metavar="STYLE")
    p.add_argument("-o", "--out", type=Path, required=True, help="output image (.png, .jpg, .webp)")
    p.add_argument("--size", type=int, default=d.size, help=f"longer side of the output in pixels (default {d.size})")
    p.add_argument("--steps", type=int, default=d.steps,
                   help=f"optimiser steps at the full size; each coarser scale runs twice as many (default {d.steps})")
    p.add_argument("--scales", type=int, default=d.scales,
                   help="coarse-to-fine levels, each half the size of the next (default 0: automatic, "
                        f"coarsest about {d.min_scale_size} px; 1 = single scale)")
    p.add_argument("--style-strength", type=float, default=d.style_strength,
                   help="more (>1) or less (<1) style; multiplies --style-weight (default 1)")
    p.add_argument("--preserve-colour", "--preserve-color", dest="preserve_colour", action="store_true",
                   help="transfer luminance only: keep the content's colours")
    p.add_argument("--style-blend", type=_numbers, help="one weight per STYLE image, e.g. 0.7,0.3 (default equal)")
    p.add_argument("--init", choices=INITS, default=d.init, help=f"start from (default {d.init})")
    p.add_argument("--features", choices=FEATURES, default=d.features,
                   help="vgg19 (ImageNet weights, best), random (no download) or auto: vgg19 when its weights "
                        "can be had, otherwise random, with a note (default auto)")
    p.add_argument("--weights", type=Path, help="a local copy of torchvision's vgg19-dcbb9e9d.pth")
    p.add_argument("--no-download", dest="download", action="store_false",
                   help="never download the VGG19 weights")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default=d.optimizer, help=f"(default {d.optimizer})")
    p.add_argument("--lr", type=float, help="learning rate (default 1.0 for lbfgs, 0.02 for adam)")
    p.add_argument("--content-weight", type=float, default=d.content_weight, help=f"(default {d.content_weight})")
    p.add_argument("--style-weight", type=float, default=d.style_weight, help=f"(default {d.style_weight})")
    p.add_argument("--tv-weight", type=float, default=d.tv_weight,
                   help=f"total-variation (smoothness) weight (default {d.tv_weight})")
    p.add_argument("--content-layers", type=_names, help="comma-separated layer names (default: the network's)")
    p.add_argument("--style-layers", type=_names, help="comma-separated layer names (default: the network's)")
    p.add_argument("--style-layer-weights", type=_numbers, help="one weight per --style-layers entry")
    p.add_argument("--style-scale", type=float, default=d.style_scale,
                   help="size of the style image relative to the output: <1 gives finer brush strokes (default 1)")
    p.add_argument("--seed", type=int, default=d.seed, help="seed of the starting noise, where one is used")
    p.add_argument("--device", default=d.device, help="auto, cpu, cuda, mps (default auto)")
    p.add_argument("--precision", choices=("auto", "fp32", "bf16"), default=d.precision,
                   help="bf16 where native is about twice as fast on CPUs and GPUs (default auto)")
    p.add_argument("--threads", type=int, default=d.threads, metavar="N",
                   help="CPU threads (default 0: the fastest count, found by timing the first steps)")
    p.add_argument("--save-every", type=int, default=0, metavar="N",
                   help="also write the image every N steps into OUT's folder, under OUT-steps/")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def run(args: argparse.Namespace) -> int:
    from ganforge.api import stylize

    options = dict(
        size=args.size, steps=args.steps, scales=args.scales, optimizer=args.optimizer, lr=args.lr,
        features=args.features, weights=str(args.weights) if args.weights else None, download=args.download,
        content_layers=args.content_layers, style_layers=args.style_layers,
        style_layer_weights=args.style_layer_weights, style_blend=args.style_blend,
        content_weight=args.content_weight, style_weight=args.style_weight, style_strength=args.style_strength,
        tv_weight=args.tv_weight, init=args.init, preserve_colour=args.preserve_colour,
        style_scale=args.style_scale, seed=args.seed, device=args.device, precision=args.precision,
        save_every=args.save_every, threads=args.threads,
    )
    image = stylize(args.content, args.styles, out=args.out, quiet=args.quiet, **options)
    save_dir = args.out.parent / f"{args.out.stem}-steps" if args.save_every else None
    extra = f"; intermediate images in {save_dir}" if save_dir else ""
    print(f"wrote {args.out} ({image.shape[-1]}x{image.shape[-2]}){extra}")
    return 0
