"""Projection (inversion): the latent whose image matches a given picture, found by gradient descent.

Style-based runs optimise w (one style for every layer) or w+ (one per layer, `--space w+`: closer fits, less
regular latents) from the mean w, with StyleGAN2's projector's schedule: a learning rate ramped up and down,
Gaussian jitter on w fading out over the first 3/4 of the steps, and the per-layer noise maps optimised too,
kept from carrying the image by a penalty on their autocorrelation at every scale and renormalised each step.
Any other noise-to-image run (DCGAN) optimises z from the best of several random draws, kept on the sphere
where N(0, I) latents live.

The distance: squared pixel error at full size and at 1/2 and 1/4 size (the coarse layout counts as much as the
detail), plus, where the run's D exposes its activations (`feature_maps`), an LPIPS-like perceptual term: each
level's channel vectors normalised to unit length, the squared difference averaged.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ganforge.images import grid
from ganforge.inference.styles import is_style_based

NOISE_REG = 1e5  # StyleGAN2's projector: the noise maps' autocorrelation penalty weight
JITTER = 0.05  # initial w jitter, in units of the spread of w
JITTER_RAMP = 0.75  # share of the steps over which the jitter fades to 0
LR = 0.1
LR_RAMP_UP, LR_RAMP_DOWN = 0.05, 0.25  # shares of the steps
PERCEPTUAL_WEIGHT = 1.0
Z_STARTS = 16  # DCGAN: random z tried, the closest kept as the start
GIF_FRAMES = 40


@dataclass
class Projection:
    latent: np.ndarray  # w+ (1, num_ws, w_dim) or z (1, latent_dim), float32
    image: torch.Tensor  # (1, C, H, W) in [-1, 1]: the reconstruction
    frames: list[np.ndarray] = field(default_factory=list)  # target | reconstruction, uint8, as it went
    losses: list[float] = field(default_factory=list)
    pixel_error: float = 0.0  # mean squared error of the reconstruction, in [-1, 1] units


def perceptual(D: nn.Module | None) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None:
    """The LPIPS-like distance in D's activations, when D offers them."""
    if D is None or not hasattr(D, "feature_maps"):
        return None

    def distance(a: torch.Tensor, b_maps: list[torch.Tensor]) -> torch.Tensor:
        total = a.new_zeros(())
        for fa, fb in zip(D.feature_maps(a), b_maps):
            total = total + (F.normalize(fa, dim=1) - F.normalize(fb, dim=1)).square().sum(1).mean()
        return total

    return distance


def image_distance(image: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Squared pixel error at full, half and quarter size."""
    total = F.mse_loss(image, target)
    for factor in (2, 4):
        if min(target.shape[2:]) >= 4 * factor:
            total = total + F.mse_loss(F.avg_pool2d(image, factor), F.avg_pool2d(target, factor))
    return total


def noise_penalty(maps: list[torch.Tensor]) -> torch.Tensor:
    """Squared autocorrelation of each noise map with itself shifted by one pixel, at every scale down to 8 px."""
    total = maps[0].new_zeros(())
    for noise in maps:
        while True:
            total = total + (noise * noise.roll(1, 3)).mean().square() + (noise * noise.roll(1, 2)).mean().square()
            if min(noise.shape[2:]) <= 8:
                break
            noise = F.avg_pool2d(noise, 2)
    return total


def learning_rate(progress: float) -> float:
    """StyleGAN2's projector: a cosine ramp down over the last quarter, a linear ramp up over the first 5%."""
    down = 0.5 - 0.5 * math.cos(min(1.0, (1.0 - progress) / LR_RAMP_DOWN) * math.pi)
    return LR * down * min(1.0, progress / LR_RAMP_UP)


def _frame(target: torch.Tensor, image: torch.Tensor) -> np.ndarray:
    return grid(torch.cat([target, image.detach().float().cpu()]), nrow=2)


def project(G: nn.Module, target: torch.Tensor, steps: int = 300, D: nn.Module | None = None, space: str = "w",
            seed: int = 0, noise_reg: float = NOISE_REG) -> Projection:
    """The latent of G whose image is closest to `target` (1, C, H, W) in [-1, 1]; G and D in eval mode."""
    G.eval().requires_grad_(False)
    if D is not None:
        D.eval().requires_grad_(False)
    distance = perceptual(D)
    with torch.no_grad():
        target_maps = [m.detach() for m in D.feature_maps(target)] if distance is not None else []
    generator = torch.Generator().manual_seed(seed)
    if is_style_based(G):
        return _project_w(G, target, steps, distance, target_maps, space, generator, noise_reg)
    return _project_z(G, target, steps, distance, target_maps, generator)


def _loss(image: torch.Tensor, target: torch.Tensor, distance: Callable | None, target_maps: list) -> torch.Tensor:
    loss = image_distance(image, target)
    return loss if distance is None else loss + PERCEPTUAL_WEIGHT * distance(image, target_maps)


def _project_w(G: nn.Module, target: torch.Tensor, steps: int, distance: Callable | None, target_maps: list,
               space: str, generator: torch.Generator, noise_reg: float) -> Projection:
    with torch.no_grad():  # the mean and spread of w, from 2,000 latents
        w_samples = G.mapping(torch.randn(2000, G.latent_dim, generator=generator))
        w_mean, w_std = w_samples.mean(0, keepdim=True), float(w_samples.std(0).square().sum().sqrt())
    start = w_mean.unsqueeze(1).repeat(1, G.num_ws if space == "w+" else 1, 1)
    w_opt = start.clone().requires_grad_(True)
    layers = [m for m in G.modules() if hasattr(m, "override") and hasattr(m, "fixed")]
    maps = [torch.randn(layer.fixed.shape, generator=generator).requires_grad_(True) for layer in layers]
    for layer, noise in zip(layers, maps):
        layer.override = noise
    opt = torch.optim.Adam([w_opt, *maps], lr=LR, betas=(0.9, 0.999))
    result = Projection(np.zeros(0, np.float32), target)
    try:
        for step in range(steps):
            progress = step / max(1, steps)
            for group in opt.param_groups:
                group["lr"] = learning_rate(progress)
            jitter = w_std * JITTER * max(0.0, 1.0 - progress / JITTER_RAMP) ** 2
            w = w_opt + torch.randn(w_opt.shape, generator=generator) * jitter
            ws = w.expand(-1, G.num_ws, -1) if space == "w" else w
            image = G.synthesis(ws)
            loss = _loss(image, target, distance, target_maps)
            total = loss + noise_reg * noise_penalty(maps)
            opt.zero_grad(set_to_none=True)
            total.backward()
            opt.step()
            with torch.no_grad():  # noise maps back to zero mean, unit variance
                for noise in maps:
                    noise.sub_(noise.mean()).div_(noise.square().mean().sqrt() + 1e-8)
            result.losses.append(float(loss.detach()))
            if step % max(1, steps // GIF_FRAMES) == 0:
                result.frames.append(_frame(target, image))
        with torch.no_grad():
            ws = w_opt.expand(-1, G.num_ws, -1) if space == "w" else w_opt
            result.image = G.synthesis(ws).float()
    finally:
        for layer in layers:
            layer.override = None
    result.latent = ws.detach().float().numpy().astype(np.float32)
    result.frames.append(_frame(target, result.image))
    result.pixel_error = float(F.mse_loss(result.image, target))
    return result


def _project_z(G: nn.Module, target: torch.Tensor, steps: int, distance: Callable | None, target_maps: list,
               generator: torch.Generator) -> Projection:
    dim = int(G.latent_dim) if hasattr(G, "latent_dim") else 100
    with torch.no_grad():  # the closest of several random starts
        starts = torch.randn(Z_STARTS, dim, generator=generator)
        errors = torch.stack([F.mse_loss(G(z[None]).float(), target) for z in starts])
    z_opt = starts[int(errors.argmin())][None].clone().requires_grad_(True)
    opt = torch.optim.Adam([z_opt], lr=LR)
    radius = math.sqrt(dim)
    result = Projection(np.zeros(0, np.float32), target)
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = learning_rate(step / max(1, steps))
        image = G(z_opt).float()
        loss = _loss(image, target, distance, target_maps)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():  # back onto the sphere of radius sqrt(dim)
            z_opt.mul_(radius / z_opt.norm())
        result.losses.append(float(loss.detach()))
        if step % max(1, steps // GIF_FRAMES) == 0:
            result.frames.append(_frame(target, image))
    with torch.no_grad():
        result.image = G(z_opt).float()
    result.latent = z_opt.detach().numpy().astype(np.float32)
    result.frames.append(_frame(target, result.image))
    result.pixel_error = float(F.mse_loss(result.image, target))
    return result
