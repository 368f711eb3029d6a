"""Gatys et al.'s style transfer: optimise the pixels of an image so that its features match the
content image's and its feature correlations (Gram matrices) match the style images', coarse to fine.

Coarse to fine: the image is optimised at a low resolution first (cheap steps that settle the large
structures), then upsampled and refined at twice the size, up to the requested size; most of the work
happens where a step costs 1/4 or 1/16 as much.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from tqdm import tqdm

from ganforge.data.folder import BadImage, open_image
from ganforge.data.input_limits import check_input_image
from ganforge.errors import GanforgeError
from ganforge.images import save_png, to_channels, to_pil, to_uint8
from ganforge.runtime import autocast, resolve_device, resolve_precision
from ganforge.style.colour import keep_colours, luminance_image
from ganforge.style.config import DEFAULT_LR, StyleConfig
from ganforge.style.losses import content_loss, gram, style_loss, tv_loss
from ganforge.style.networks import FEATURE_NETS, build_features, choose_features
from ganforge.threads import chosen_threads, unit

ImageSource = str | os.PathLike | Image.Image | np.ndarray


def load_image(source: ImageSource, long_side: int) -> torch.Tensor:
    """A path, PIL image or uint8 (H, W, 3) array -> (1, 3, H, W) in [-1, 1], longer side `long_side`."""
    if isinstance(source, Image.Image):
        picture = to_channels(source, 3)  # transparency onto white, as for every file ganforge reads
    elif isinstance(source, np.ndarray):
        if source.dtype != np.uint8 or source.ndim != 3 or source.shape[-1] != 3:
            raise GanforgeError(f"image arrays must be uint8 (H, W, 3), got {source.dtype} {source.shape}")
        picture = Image.fromarray(source)
    else:
        path = Path(source).expanduser()
        if not path.is_file():
            raise GanforgeError(f"{path}: no such image file")
        try:
            check_input_image(path)  # the file's size; the pixels are open_image's decompression-bomb limit
            picture = open_image(path, channels=3)
        except BadImage as err:
            raise GanforgeError(f"{path}: {err}") from None
    h, w = fit_long_side((picture.height, picture.width), long_side)
    picture = picture.resize((w, h), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return torch.from_numpy(np.asarray(picture).copy()).permute(2, 0, 1)[None].float().div(127.5).sub(1).contiguous()


def fit_long_side(hw: tuple[int, int], long_side: int) -> tuple[int, int]:
    """(H, W) scaled so the longer side is `long_side`, aspect ratio kept."""
    scale = long_side / max(hw)
    return max(1, round(hw[0] * scale)), max(1, round(hw[1] * scale))


def resize(image: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    if tuple(image.shape[-2:]) == tuple(hw):
        return image
    return F.interpolate(image, size=hw, mode="bicubic", antialias=True, align_corners=False).clamp(-1, 1)


def scale_sizes(hw: tuple[int, int], levels: int) -> list[tuple[int, int]]:
    """Sizes of the coarse-to-fine levels, coarsest first, each half the next; the last is `hw`."""
    return [fit_long_side(hw, round(max(hw) / 2 ** k)) for k in reversed(range(levels))]


def auto_levels(long_side: int, min_size: int) -> int:
    """Halve while the result stays at least `min_size` pixels on its longer side."""
    levels = 1
    while long_side / 2**levels >= min_size:
        levels += 1
    return levels


def steps_per_level(steps: int, levels: int) -> list[int]:
    """Coarsest first: the finest level runs `steps` steps and each coarser one twice as many as the next finer.

    A step at half the size costs about a quarter, so each coarser level costs half the next and all of them
    together less than the finest; the image's structure forms where steps are cheap. At equal time this beat
    equal steps per level (docs/style-transfer.md)."""
    return [steps * 2 ** (levels - 1 - level) for level in range(levels)]


@dataclass
class Objective:
    """Content, style and TV terms against fixed targets; `terms(x)` is what the optimiser minimises."""

    net: nn.Module
    content_targets: dict[str, torch.Tensor]  # layer -> features of the content image
    style_targets: dict[str, torch.Tensor]  # layer -> blended Gram matrix of the style images
    content_layer_weights: dict[str, float]
    style_layer_weights: dict[str, float]
    weights: tuple[float, float, float]  # content, style, TV
    device: torch.device
    precision: str

    def terms(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        layers = list(dict.fromkeys([*self.content_targets, *self.style_targets]))
        with autocast(self.device, self.precision):
            features = self.net(image.contiguous(memory_format=torch.channels_last), layers)
        content = sum((w * content_loss(features[name], self.content_targets[name])
                       for name, w in self.content_layer_weights.items()), torch.zeros((), device=image.device))
        style = sum((w * style_loss(features[name], self.style_targets[name])
                     for name, w in self.style_layer_weights.items()), torch.zeros((), device=image.device))
        tv = tv_loss(image)
        w_content, w_style, w_tv = self.weights
        return {"total": w_content * content + w_style * style + w_tv * tv, "content": content, "style": style,
                "tv": tv}


def _normalised(names: Sequence[str], weights: Sequence[float] | None) -> dict[str, float]:
    weights = list(weights) if weights is not None else [1.0] * len(names)
    total = sum(weights)
    return {name: w / total for name, w in zip(names, weights) if w > 0}


@torch.no_grad()
def build_objective(net: nn.Module, content: torch.Tensor, styles: Sequence[torch.Tensor],
                    content_layers: dict[str, float], style_layers: dict[str, float],
                    blend: Sequence[float], weights: tuple[float, float, float], device: torch.device,
                    precision: str) -> Objective:
    """Targets computed once: content features, and the blend-weighted mean of the styles' Grams."""
    with autocast(device, precision):
        content_features = net(_to_device(content, device), list(content_layers)) if content_layers else {}
        style_features = [net(_to_device(s, device), list(style_layers)) for s in styles]
    grams = {name: sum(b * gram(f[name]) for b, f in zip(blend, style_features)) for name in style_layers}
    content_targets = {name: f.float() for name, f in content_features.items()}
    return Objective(net, content_targets, grams, content_layers, style_layers, weights, device, precision)


def _to_device(image: torch.Tensor, device: torch.device) -> torch.Tensor:
    """channels_last: the layout oneDNN and cuDNN convolutions are fastest in."""
    return image.to(device).contiguous(memory_format=torch.channels_last)


@dataclass
class StepInfo:
    step: int  # 1-based, counted over all levels
    total_steps: int
    size: tuple[int, int]  # (H, W) of the level being optimised
    losses: dict[str, float]
    image: torch.Tensor  # the current image, (1, 3, H, W) in [-1, 1], on the CPU


class PixelOptimiser:
    """Optimises an image's pixels against an objective, one step (one loss evaluation) at a time.

    Keeps the lowest-loss image it has seen, and restarts L-BFGS from it when the loss climbs more than
    RESTART_RISE above it: without a line search, and with pixels clamped to [-1, 1] after each step
    (which L-BFGS's curvature pairs do not know about), L-BFGS can wander off late in a run.
    """

    RESTART_RISE = 0.1

    def __init__(self, objective: Objective, image: torch.Tensor, optimizer: str = "lbfgs",
                 lr: float | None = None) -> None:
        self.objective = objective
        # A fresh contiguous leaf: L-BFGS flattens the gradient, and the caller's tensor stays untouched.
        self.image = image.detach().to(objective.device).clone(memory_format=torch.contiguous_format)
        self.image.requires_grad_(True)
        self.best_loss, self.best_image = float("inf"), self.image.detach().clone()
        lr = lr if lr is not None else DEFAULT_LR[optimizer]
        if optimizer == "lbfgs":
            self.opt: torch.optim.Optimizer = torch.optim.LBFGS([self.image], lr=lr, max_iter=1, history_size=100)
        else:
            self.opt = torch.optim.Adam([self.image], lr=lr)

    def step(self) -> dict[str, float]:
        """One step; returns the loss terms of the image as it was before the step. Pixels stay in [-1, 1]."""
        terms: dict[str, torch.Tensor] = {}

        def closure() -> torch.Tensor:
            self.opt.zero_grad(set_to_none=True)
            terms.update(self.objective.terms(self.image))
            self._remember(float(terms["total"].detach()))
            terms["total"].backward()
            return terms["total"]

        self.opt.step(closure)
        with torch.no_grad():
            self.image.clamp_(-1, 1)
            if isinstance(self.opt, torch.optim.LBFGS) and float(terms["total"]) > self.best_loss * (
                    1 + self.RESTART_RISE):
                self.image.copy_(self.best_image)
                self.opt.state.clear()  # forget the curvature pairs that led here
        return {k: float(v.detach()) for k, v in terms.items()}

    def _remember(self, loss: float) -> None:
        if loss < self.best_loss:
            self.best_loss, self.best_image = loss, self.image.detach().clone()

    @torch.no_grad()
    def result(self) -> torch.Tensor:
        """The lowest-loss image seen, the final one included; (1, 3, H, W) on the CPU."""
        self._remember(float(self.objective.terms(self.image)["total"]))
        return self.best_image.cpu().contiguous()


def optimise(objective: Objective, image: torch.Tensor, steps: int, optimizer: str = "lbfgs",
             lr: float | None = None, on_step: Callable[[dict[str, float], torch.Tensor], None] | None = None
             ) -> torch.Tensor:
    """`steps` optimiser steps from `image`; `on_step(losses, current image)` after each. Returns the best image."""
    optimiser = PixelOptimiser(objective, image, optimizer, lr)
    for _ in range(steps):
        with unit():  # timed, when the thread count is being chosen (ganforge/threads.py)
            losses = optimiser.step()
        if on_step is not None:
            on_step(losses, optimiser.image)
    return optimiser.result()


def _initial_image(init: str, content: torch.Tensor, style: torch.Tensor, seed: int) -> torch.Tensor:
    if init == "content":
        return content.clone()
    if init == "style":
        return resize(style, tuple(content.shape[-2:]))
    noise = torch.randn(content.shape, generator=torch.Generator().manual_seed(seed))
    return (noise * 0.25).clamp(-1, 1)


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


def stylize(content: ImageSource, styles: ImageSource | Sequence[ImageSource], config: StyleConfig | None = None,
            *, progress: bool = False, save_dir: str | os.PathLike | None = None,
            on_step: Callable[[StepInfo], None] | None = None,
            notify: Callable[[str], None] = _stderr) -> Image.Image:
    """Paint `content` in the style of `styles` (paths, PIL images or uint8 arrays); returns a PIL image.

    `config.save_every` > 0 writes intermediate images into `save_dir`; `on_step` sees every step
    (a progress bar, a web page); `notify` receives one-line notes such as the random-feature fallback.
    """
    config = config or StyleConfig()
    style_list = list(styles) if isinstance(styles, (list, tuple)) else [styles]
    if not style_list:
        raise GanforgeError("give at least one style image")
    config.validate(len(style_list))
    if config.save_every and save_dir is None:
        raise GanforgeError("--save-every needs a folder to write the intermediate images into")
    device = resolve_device(config.device)
    precision = resolve_precision(config.precision, device)
    if precision == "fp16":  # auto on a GPU without bf16: Gram matrices of large feature maps overflow fp16
        precision = "fp32"

    kind = choose_features(config.features, config.weights, config.download, notify)
    spec = FEATURE_NETS.get(kind)
    content_layers = _normalised(config.content_layers or spec.content_layers, None) if config.content_weight else {}
    style_layers = _normalised(config.style_layers or spec.style_layers, config.style_layer_weights)
    net = build_features(kind, [*content_layers, *style_layers], config.weights, config.download)
    net = net.to(device, memory_format=torch.channels_last)

    content_full = load_image(content, config.size)
    style_full = [load_image(s, max(1, round(config.size * config.style_scale))) for s in style_list]
    blend = config.style_blend or [1.0] * len(style_full)
    blend = [w / sum(blend) for w in blend]
    levels = config.scales or auto_levels(config.size, config.min_scale_size)
    sizes = scale_sizes(tuple(content_full.shape[-2:]), levels)
    schedule = steps_per_level(config.steps, levels)
    weights = (config.content_weight, config.style_weight * config.style_strength, config.tv_weight)
    bar = tqdm(total=sum(schedule), desc="stylize", unit="step", disable=not progress, dynamic_ncols=True)

    image: torch.Tensor | None = None
    done = 0
    with chosen_threads(config.threads, device.type, announce=notify if progress else None):
        for hw, steps in zip(sizes, schedule):
            content_l = resize(content_full, hw)
            styles_l = [resize(s, fit_long_side(tuple(s.shape[-2:]), round(max(hw) * config.style_scale)))
                        for s in style_full]
            if config.preserve_colour:
                styles_l = [luminance_image(s, like=content_l) for s in styles_l]
                content_l = luminance_image(content_l)
            objective = build_objective(net, content_l, styles_l, content_layers, style_layers, blend, weights,
                                        device, precision)
            start = (_initial_image(config.init, content_l, styles_l[0], config.seed) if image is None
                     else resize(image, hw))

            def report(losses: dict[str, float], x: torch.Tensor, hw: tuple[int, int] = hw) -> None:
                nonlocal done
                done += 1
                bar.update(1)
                bar.set_postfix(size=f"{hw[1]}x{hw[0]}", content=f"{losses['content']:.3g}",
                                style=f"{losses['style']:.3g}", tv=f"{losses['tv']:.3g}", refresh=False)
                if on_step is None and not (config.save_every and done % config.save_every == 0):
                    return
                current = x.detach().float().cpu()
                if config.preserve_colour:
                    current = keep_colours(current, resize(content_full, hw))
                if config.save_every and done % config.save_every == 0:
                    save_png(Path(save_dir) / f"{done:05d}-{hw[1]}x{hw[0]}.png", to_uint8(current)[0])
                if on_step is not None:
                    on_step(StepInfo(done, bar.total, hw, losses, current))

            image = optimise(objective, start, steps, config.optimizer, config.lr, report)
    bar.close()
    if config.preserve_colour:
        image = keep_colours(image, content_full)
    return to_pil(to_uint8(image)[0])

