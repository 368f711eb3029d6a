"""Recipes for the high-resolution architectures: MSG-GAN, progressive growing and FastGAN.

They share one step (MultiScaleStep): the GAN step of recipes/gan.py, generalised so that G's output
and the real batch can be something other than one image tensor (MSG-GAN: a list of scales), the
loss may be relativistic (G's loss reads D's real logits), and D's inputs may be augmented.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ganforge.config import TrainConfig
from ganforge.losses.relativistic import PairLoss, pair_loss
from ganforge.models.scaled import image_pyramid
from ganforge.recipes.base import RECIPES, Recipe, Step, StepParts, step_stats
from ganforge.recipes.gan import model_args
from ganforge.runtime import autocast
from ganforge.training.progressive_schedule import stage_at

Images = torch.Tensor | list[torch.Tensor]


def _detach(x: Images) -> Images:
    return x.detach() if torch.is_tensor(x) else [t.detach() for t in x]


class MultiScaleStep:
    """Stage 1: D learns real vs fake. Stage 2: G learns to fool D, D frozen. `generate(z)` and
    `show_real(real)` say what D sees; `augment` (DiffAugment) is applied to every D input alike."""

    def __init__(self, parts: StepParts, loss: PairLoss,
                 generate: Callable[[torch.Tensor], Images] | None = None,
                 show_real: Callable[[torch.Tensor], Images] | None = None,
                 augment: Callable[[torch.Tensor], torch.Tensor] | None = None) -> None:
        self.parts, self.G, self.D = parts, parts.G, parts.D
        self.loss, self.device, self.precision = loss, parts.device, parts.precision
        self.generate = generate or parts.G
        self.show_real = show_real or (lambda real: real)
        self.augment = augment

    def _judge(self, images: Images) -> torch.Tensor:
        if self.augment is not None:
            images = self.augment(images)
        return self.D(images)

    def __call__(self, real: torch.Tensor, z: torch.Tensor, labels: torch.Tensor | None = None,
                 train_d: bool = True, train_g: bool = True) -> dict[str, torch.Tensor]:
        D = self.D
        real_in = self.show_real(real)
        with autocast(self.device, self.precision):
            fake = self.generate(z)

        D.requires_grad_(True)
        with autocast(self.device, self.precision):
            real_logits = self._judge(real_in)
            fake_logits = self._judge(_detach(fake))
        d_loss = self.loss.d_loss(real_logits.float(), fake_logits.float())
        if train_d:
            self.parts.update_D(d_loss)

        D.requires_grad_(False)
        with autocast(self.device, self.precision):
            g_logits = self._judge(fake)
            g_real_logits = self._judge(real_in) if self.loss.relativistic else real_logits.detach()
        g_loss = self.loss.g_loss(g_real_logits.float(), g_logits.float())
        if train_g:
            self.parts.update_G(g_loss)
        D.requires_grad_(True)
        return step_stats(d_loss, g_loss, real_logits, fake_logits)


class _HighResRecipe(Recipe):
    wraps_d = False  # msg's D takes a list of scales, fastgan augments its own inputs (remedies.py refuses the rest)

    def model_args(self) -> dict[str, Any]:
        args = {**model_args(self.config), "aspect": self.config.aspect}
        return {k: v for k, v in args.items() if k not in ("d_batchnorm", "upsample")}  # DCGAN-only settings

    def _step(self, parts: StepParts, **kwargs: Any) -> MultiScaleStep:
        return MultiScaleStep(parts, pair_loss(self.config.loss), **kwargs)


@RECIPES.register("msg")
class MSGRecipe(_HighResRecipe):
    """MSG-GAN: D sees G's image at every scale, and the real batch averaged down to the same scales."""

    name = "msg"

    def make_step(self, parts: StepParts) -> Step:
        levels = len(parts.G.to_rgb)
        return self._step(parts, generate=parts.G.scales,
                          show_real=lambda real: image_pyramid(real, levels))


@RECIPES.register("progressive")
class ProgressiveRecipe(_HighResRecipe):
    """Progressive growing: before each step the schedule sets G's and D's stage and fade-in weight.
    The images seen so far are this recipe's checkpoint state, so a resume lands mid-stage or mid-fade."""

    name = "progressive"

    def __init__(self, config: TrainConfig, dataset: Any) -> None:
        super().__init__(config, dataset)
        self.images_seen = 0

    def make_step(self, parts: StepParts) -> Step:
        inner = self._step(parts)
        G, D, cfg = parts.G, parts.D, self.config

        def step(real: torch.Tensor, z: torch.Tensor, *args: Any, **kwargs: Any) -> dict[str, torch.Tensor]:
            stage, alpha = stage_at(self.images_seen, G.last_stage, cfg.stage_images, cfg.fade_images)
            G.set_stage(stage, alpha)
            D.set_stage(stage, alpha)
            stats = inner(real, z, *args, **kwargs)
            self.images_seen += cfg.batch_size  # the global batch: with torchrun each process sees a share
            return {**stats, "progressive/stage": torch.tensor(float(stage)),
                    "progressive/alpha": torch.tensor(alpha)}

        return step

    def state_dict(self) -> dict[str, Any]:
        return {"images_seen": self.images_seen}

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        self.images_seen = int(state["images_seen"]) if state else 0


@RECIPES.register("fastgan")
class FastGANRecipe(_HighResRecipe):
    """FastGAN-style G and D; every D input, real or fake, goes through DiffAugment (colour, translation,
    cutout; p = 1 as in FastGAN), which keeps D from memorising a few hundred images."""

    name = "fastgan"

    def make_step(self, parts: StepParts) -> Step:
        from ganforge.data.augment import diff_augment

        return self._step(parts, augment=lambda x: diff_augment(x, 1.0))
