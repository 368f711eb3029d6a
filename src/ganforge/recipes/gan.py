"""The GAN step (unconditional, or class-conditional when labels are given): the two stages of
adversarial training, made explicit; and the recipes that plug it into the training loop."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ganforge.config import TrainConfig
from ganforge.errors import GanforgeError
from ganforge.losses.adversarial import AdversarialLoss
from ganforge.losses.penalties import DiscriminatorPenalty, optimizer_steps
from ganforge.models.layers import MinibatchStd
from ganforge.recipes.base import RECIPES, Recipe, Step, StepParts, step_stats
from ganforge.runtime import autocast


class GANStep:
    """Stage 1: D learns real=1 / fake=0. Stage 2: G learns to make D say "real", D frozen.

    Conditional: G(z, labels) and D(x, labels); the fakes get the real batch's labels, so generated
    classes follow the data's class frequencies.

    A subclass may read more from D's pass than the real/fake logits (`judge`'s side output) and add a
    term from it to both networks' losses (`side_loss`); recipes/infogan.py does."""

    def __init__(self, parts: StepParts, loss: AdversarialLoss, conditional: bool = False,
                 d_penalty: DiscriminatorPenalty | None = None) -> None:
        self.parts, self.G, self.D = parts, parts.G, parts.D
        self.loss, self.device, self.precision = loss, parts.device, parts.precision
        self.conditional = conditional
        self.d_penalty = d_penalty if d_penalty is not None and d_penalty.active else None  # GP / R1
        self.joint_d = judges_samples_independently(self.D)
        self.d_params = list(self.D.parameters())  # gathered once: freezing D walks them twice per step

    def __call__(self, real: torch.Tensor, z: torch.Tensor, labels: torch.Tensor | None = None,
                 train_d: bool = True, train_g: bool = True) -> dict[str, torch.Tensor]:
        G, D = self.G, self.D
        cond = (labels,) if self.conditional else ()  # an unconditional G ignores the data's labels
        with autocast(self.device, self.precision), torch.set_grad_enabled(train_g):
            fake = G(z, *cond)  # (B, C, H, W); reused by both stages (no graph when G is not trained)

        # Stage 1: the discriminator, a binary classifier of real (1) vs fake (0).
        _set_trainable(self.d_params, True)
        with autocast(self.device, self.precision):
            real_logits, fake_logits, fake_side = self._judge_pair(real, fake.detach(), cond)
        d_loss = self.loss.d_loss(real_logits.float(), fake_logits.float())
        d_side = self.side_loss(fake_side, z)
        penalty = None
        if train_d:
            if self.d_penalty is not None:
                penalty = self.d_penalty(D, real, fake.detach(), cond, optimizer_steps(self.parts.opt_D))
            total = d_loss if penalty is None else d_loss + penalty
            self.parts.update_D(total if d_side is None else total + d_side)

        # Stage 2: the whole G -> D chain with target "real"; D's weights frozen, only G learns.
        if train_g:
            _set_trainable(self.d_params, False)
            with autocast(self.device, self.precision):
                g_logits, g_side = self.judge(fake, cond)
            g_loss = self.loss.g_loss(g_logits.float())
            g_extra = self.side_loss(g_side, z)
            self.parts.update_G(g_loss if g_extra is None else g_loss + g_extra)
            _set_trainable(self.d_params, True)
        else:  # a D-only step (--d-steps, --balance skip): G's loss as D judged the fakes in stage 1, no 2nd pass
            g_loss, g_side = self.loss.g_loss(fake_logits.float()), fake_side

        stats = step_stats(d_loss, g_loss, real_logits, fake_logits)
        if penalty is not None:
            stats["loss/D_penalty"] = penalty.detach()
        stats.update(self.side_stats(g_side, z))
        return stats

    def _judge_pair(self, real: torch.Tensor, fake: torch.Tensor, cond: tuple
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """D's logits on the real and on the fake batch (and its side output on the fakes).

        One pass over both batches when D judges each sample on its own (no batch norm, no minibatch
        std): the same result, with one spectral-norm update and larger, faster convolutions."""
        if self.joint_d and real.shape == fake.shape:
            logits, side = self.judge(torch.cat([real, fake]), tuple(torch.cat([c, c]) for c in cond))
            half = len(logits) // 2
            return logits[:half], logits[half:], None if side is None else side[half:]
        real_logits = self.D(real, *cond)
        return (real_logits, *self.judge(fake, cond))

    def judge(self, images: torch.Tensor, cond: tuple) -> tuple[torch.Tensor, torch.Tensor | None]:
        """D's logits, and what else the same pass says about the images (its side output; none here)."""
        return self.D(images, *cond), None

    def side_loss(self, side: torch.Tensor | None, z: torch.Tensor) -> torch.Tensor | None:
        """A term both networks add to their loss, from D's side output on the fakes of latents z (none here)."""
        return None

    def side_stats(self, side: torch.Tensor | None, z: torch.Tensor) -> dict[str, torch.Tensor]:
        """What the side output on the fakes adds to the step's statistics (nothing here)."""
        return {}


def _set_trainable(params: list[torch.Tensor], trainable: bool) -> None:
    """Module.requires_grad_ without the walk over the module tree."""
    for p in params:
        p.requires_grad_(trainable)


def judges_samples_independently(D: nn.Module) -> bool:
    """True when no layer of D mixes samples of a batch (batch norm and minibatch std do)."""
    return not any(isinstance(m, (nn.modules.batchnorm._BatchNorm, MinibatchStd)) for m in D.modules())


def model_args(config: TrainConfig) -> dict[str, Any]:
    args = dict(resolution=config.resolution, channels=config.channels, latent_dim=config.latent_dim,
                g_width=config.g_width, d_width=config.d_width, d_batchnorm=config.d_batchnorm,
                upsample=config.upsample, **architectures(config), **d_options(config))
    # square runs store the arguments they always stored, so their checkpoints stay as they were
    return args if config.aspect == "1:1" else {**args, "aspect": config.aspect}


def architectures(config: TrainConfig) -> dict[str, Any]:
    """--d-arch and --g-arch where they are not DCGAN's (so DCGAN runs keep the model arguments they always had)."""
    return {name: getattr(config, name) for name in ("d_arch", "g_arch") if getattr(config, name) != "dcgan"}


def d_options(config: TrainConfig) -> dict[str, Any]:
    """D's architectural stabilisers, only when on (so checkpoints without them keep their keys)."""
    options: dict[str, Any] = {}
    if config.minibatch_std:
        options["minibatch_std"] = True
    if config.pack > 1:
        options["pack"] = config.pack  # PacGAN: D's input has pack x the channels
    return options


def loss_and_penalty(config: TrainConfig) -> tuple[AdversarialLoss, DiscriminatorPenalty]:
    """The config's loss (label smoothing included) and D penalties (WGAN-GP, lazy R1)."""
    from ganforge.losses.factory import make_loss

    loss = make_loss(config.loss, config.label_smoothing)
    return loss, DiscriminatorPenalty(loss.gradient_penalty, config.r1_gamma, config.r1_every)


def make_gan_step(config: TrainConfig, parts: StepParts, conditional: bool = False) -> GANStep:
    loss, penalty = loss_and_penalty(config)
    return GANStep(parts, loss, conditional=conditional, d_penalty=penalty)


@RECIPES.register("gan")
class GANRecipe(Recipe):
    """Noise -> image; labels, if the data has them, are ignored."""

    name = "gan"

    def model_args(self) -> dict[str, Any]:
        return model_args(self.config)

    def make_step(self, parts: StepParts) -> Step:
        return make_gan_step(self.config, parts)


@RECIPES.register("conditional")
class ConditionalGANRecipe(Recipe):
    """(noise, class) -> image of that class; the sample grid has one row per class."""

    name = "conditional"

    def check_data(self) -> None:
        super().check_data()
        if self.dataset.labels is None or self.dataset.num_classes < 2:
            raise GanforgeError(f"--conditional needs class labels, and {self.config.data} has none: use a built-in "
                                "labelled set (digits, shapes) or a folder with one sub-folder per class (at least 2)")

    def model_name(self) -> str:
        from ganforge.config.checks import spec_for

        return spec_for(self.config).name  # the model's conditional variant (conditional-dcgan)

    def model_args(self) -> dict[str, Any]:
        return {**model_args(self.config), "num_classes": self.dataset.num_classes}

    def make_step(self, parts: StepParts) -> Step:
        return make_gan_step(self.config, parts, conditional=True)

    def sample_inputs(self, device: torch.device) -> dict[str, torch.Tensor]:
        classes = self.dataset.num_classes
        per_class = max(1, self.config.sample_count // classes)
        g = torch.Generator().manual_seed(self.config.seed + 2)
        z = torch.randn(per_class, self.config.latent_dim, generator=g)
        # row c: class c; column j: the same z in every row, so a column shows one "style" across classes
        return {"z": z.repeat(classes, 1).to(device),
                "labels": torch.arange(classes).repeat_interleave(per_class).to(device)}

    def sample_grid(self, G: nn.Module, inputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, int]:
        images = G(inputs["z"], inputs["labels"])
        return images, len(images) // self.dataset.num_classes

    def checkpoint_extras(self, D: nn.Module) -> dict[str, Any]:
        return {"class_names": list(self.dataset.class_names)}
