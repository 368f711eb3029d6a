"""StyleGAN2's training of the style-based generator (models/stylegan.py).

D's update: the loss (non-saturating by default) on separate real and fake passes (D's minibatch std reads each
batch as a whole), plus lazy R1 on the reals every --r1-every updates (models' own gamma when --r1-gamma is 0:
StyleGAN2-ADA's heuristic 0.0002 x resolution^2 / batch). G's update: the loss, D frozen; with --style-mixing p,
that share of batches draws a second z whose w drives the layers from a random cut-off on (so no layer can rely
on its neighbours sharing one style); with --pl-weight, every PL_EVERY-th update adds the path-length penalty
(the image's change per unit change of w held near its running mean). The running mean of path lengths is this
recipe's checkpoint state, so a resumed run continues it.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from ganforge.config import TrainConfig
from ganforge.losses.adversarial import AdversarialLoss
from ganforge.losses.penalties import DiscriminatorPenalty, optimizer_steps
from ganforge.recipes.base import RECIPES, Recipe, Step, StepParts, step_stats
from ganforge.runtime import autocast

PL_EVERY = 4  # lazy path-length regularisation: every 4th G update, weighted x4 (StyleGAN2)
PL_DECAY = 0.01  # the running mean of path lengths moves this far per penalised update
GAMMA_PER_PIXEL = 0.0002  # StyleGAN2-ADA's gamma heuristic: 0.0002 * resolution^2 / batch


def r1_gamma_for(config: TrainConfig) -> float:
    """--r1-gamma when given, else the heuristic for this resolution and batch."""
    if config.r1_gamma:
        return float(config.r1_gamma)
    return GAMMA_PER_PIXEL * config.resolution**2 / config.batch_size


class PathLength:
    """The path-length penalty: E (|J_w^T y| - a)^2, y an image-sized Gaussian / sqrt(pixels), a its running mean."""

    def __init__(self, weight: float) -> None:
        self.weight, self.mean, self.updates = weight, 0.0, 0

    def due(self) -> bool:
        return self.weight > 0 and self.updates % PL_EVERY == 0

    def __call__(self, G: torch.nn.Module, z: torch.Tensor) -> torch.Tensor:
        ws = G.ws(G.map(z[: max(1, len(z) // 2)]))  # half the batch, as StyleGAN2
        images = G.synthesis(ws)
        noise = torch.randn_like(images) / math.sqrt(images.shape[2] * images.shape[3])
        (grad,) = torch.autograd.grad((images * noise).sum(), ws, create_graph=True)
        lengths = grad.square().sum(2).mean(1).sqrt()
        self.mean += PL_DECAY * (float(lengths.detach().mean()) - self.mean)
        return (lengths - self.mean).square().mean() * self.weight * PL_EVERY


class StyleGANStep:
    """Stage 1: D learns real vs fake, lazily R1-penalised. Stage 2: G, D frozen, with style mixing (and PL)."""

    def __init__(self, parts: StepParts, loss: AdversarialLoss, r1: DiscriminatorPenalty, style_mixing: float,
                 path_length: PathLength) -> None:
        self.parts, self.G, self.D = parts, parts.G, parts.D
        self.loss, self.r1, self.style_mixing, self.path_length = loss, r1, style_mixing, path_length
        self.device, self.precision = parts.device, parts.precision
        self.d_params = list(self.D.parameters())

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        """G(z), with a second z's w from a random layer on for a `style_mixing` share of batches."""
        if self.style_mixing > 0 and float(torch.rand(())) < self.style_mixing:
            cutoff = int(torch.randint(1, self.G.num_ws, ()))
            return self.G(z, torch.randn(z.shape, device=z.device, dtype=z.dtype), cutoff)
        return self.G(z)

    def __call__(self, real: torch.Tensor, z: torch.Tensor, labels: torch.Tensor | None = None,
                 train_d: bool = True, train_g: bool = True) -> dict[str, torch.Tensor]:
        D, parts = self.D, self.parts
        with autocast(self.device, self.precision), torch.set_grad_enabled(train_g):
            fake = self.generate(z)

        _set_trainable(self.d_params, True)
        with autocast(self.device, self.precision):
            real_logits, fake_logits = D(real).float(), D(fake.detach()).float()
        d_loss = self.loss.d_loss(real_logits, fake_logits)
        stats: dict[str, torch.Tensor] = {}
        if train_d:
            penalty = self.r1(D, real, fake.detach(), (), optimizer_steps(parts.opt_D))
            if penalty is not None:
                stats["loss/D_penalty"] = penalty.detach()
            parts.update_D(d_loss if penalty is None else d_loss + penalty)

        if train_g:
            _set_trainable(self.d_params, False)
            with autocast(self.device, self.precision):
                g_loss = self.loss.g_loss(D(fake).float())
            total = g_loss
            if self.path_length.due():
                with autocast(self.device, self.precision):
                    pl = self.path_length(self.G, z)
                stats["stylegan/path_length"] = torch.tensor(self.path_length.mean)
                total = g_loss + pl.float()
            self.path_length.updates += 1
            parts.update_G(total)
            _set_trainable(self.d_params, True)
        else:  # a D-only update: G's loss as D judged the fakes above
            g_loss = self.loss.g_loss(fake_logits.detach())
        return {**step_stats(d_loss, g_loss, real_logits, fake_logits), **stats}


def _set_trainable(params: list[torch.Tensor], trainable: bool) -> None:
    for p in params:
        p.requires_grad_(trainable)


@RECIPES.register("stylegan")
class StyleGANRecipe(Recipe):
    """Noise -> image with the style-based G; labels, if any, are ignored."""

    name = "stylegan"
    memory_format = torch.contiguous_format  # R1's double backward pass copies channels_last maps

    def __init__(self, config: TrainConfig, dataset: Any) -> None:
        super().__init__(config, dataset)
        self.path_length = PathLength(config.pl_weight)

    def model_args(self) -> dict[str, Any]:
        cfg = self.config
        return dict(resolution=cfg.resolution, channels=cfg.channels, latent_dim=cfg.latent_dim,
                    g_width=cfg.g_width, d_width=cfg.d_width, mapping_layers=cfg.mapping_layers, aspect=cfg.aspect)

    def make_step(self, parts: StepParts) -> Step:
        from ganforge.losses.factory import make_loss

        cfg = self.config
        r1 = DiscriminatorPenalty(0.0, r1_gamma_for(cfg), cfg.r1_every)
        return StyleGANStep(parts, make_loss(cfg.loss, cfg.label_smoothing), r1, cfg.style_mixing, self.path_length)

    def state_dict(self) -> dict[str, Any]:
        return {"pl_mean": self.path_length.mean, "pl_updates": self.path_length.updates}

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        state = state or {}
        self.path_length.mean = float(state.get("pl_mean", 0.0))
        self.path_length.updates = int(state.get("pl_updates", 0))
