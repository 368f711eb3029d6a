"""The GAN step (unconditional, or class-conditional when labels are given): the two stages of
adversarial training, made explicit; and the recipes that plug it into the training loop."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.config import TrainConfig
from ganforge.errors import GanforgeError
from ganforge.losses.adversarial import AdversarialLoss
from ganforge.losses.penalties import DiscriminatorPenalty, optimizer_steps
from ganforge.models.dcgan import latent_category, with_category
from ganforge.models.layers import MinibatchStd
from ganforge.recipes import RECIPES, Recipe, Step, step_stats, update
from ganforge.runtime import autocast


class GANStep:
    """Stage 1: D learns real=1 / fake=0. Stage 2: G learns to make D say "real", D frozen.

    Conditional: G(z, labels) and D(x, labels); the fakes get the real batch's labels, so generated
    classes follow the data's class frequencies.

    InfoGAN (latent_classes K): z's first K dims pick a category; in both stages D's code head also
    predicts the category of each fake and both networks minimise that cross-entropy (a lower bound on
    the mutual information between category and image), so G makes each category recognisably its own
    kind of image instead of blending between the data's clusters."""

    def __init__(self, G: nn.Module, D: nn.Module, opt_G: torch.optim.Optimizer, opt_D: torch.optim.Optimizer,
                 loss: AdversarialLoss, device: torch.device, precision: str = "fp32",
                 conditional: bool = False, d_penalty: DiscriminatorPenalty | None = None,
                 latent_classes: int = 0, info_weight: float = 1.0) -> None:
        self.G, self.D, self.opt_G, self.opt_D = G, D, opt_G, opt_D
        self.loss, self.device, self.precision = loss, device, precision
        self.conditional = conditional
        self.latent_classes, self.info_weight = latent_classes, info_weight
        self.d_penalty = d_penalty if d_penalty is not None and d_penalty.active else None  # GP / R1
        self.joint_d = judges_samples_independently(D)
        self.d_params = list(D.parameters())  # gathered once: freezing D walks them twice per step

    def __call__(self, real: torch.Tensor, z: torch.Tensor, labels: torch.Tensor | None = None,
                 train_d: bool = True, train_g: bool = True) -> dict[str, torch.Tensor]:
        G, D = self.G, self.D
        cond = (labels,) if self.conditional else ()  # an unconditional G ignores the data's labels
        codes = latent_category(z, self.latent_classes) if self.latent_classes else None
        with autocast(self.device, self.precision), torch.set_grad_enabled(train_g):
            fake = G(z, *cond)  # (B, C, H, W); reused by both stages (no graph when G is not trained)

        # Stage 1: the discriminator, a binary classifier of real (1) vs fake (0).
        _set_trainable(self.d_params, True)
        with autocast(self.device, self.precision):
            real_logits, fake_logits, fake_codes = self._judge_pair(real, fake.detach(), cond)
        d_loss = self.loss.d_loss(real_logits.float(), fake_logits.float())
        d_info = self._info_loss(fake_codes, codes)
        penalty = None
        if train_d:
            if self.d_penalty is not None:
                penalty = self.d_penalty(D, real, fake.detach(), cond, optimizer_steps(self.opt_D))
            total = d_loss if penalty is None else d_loss + penalty
            update(self.opt_D, total if d_info is None else total + self.info_weight * d_info)

        # Stage 2: the whole G -> D chain with target "real"; D's weights frozen, only G learns.
        if train_g:
            _set_trainable(self.d_params, False)
            with autocast(self.device, self.precision):
                g_logits, g_codes = self._judge(fake, cond)
            g_loss = self.loss.g_loss(g_logits.float())
            g_info = self._info_loss(g_codes, codes)
            update(self.opt_G, g_loss if g_info is None else g_loss + self.info_weight * g_info)
            _set_trainable(self.d_params, True)
        else:  # a D-only step (--d-steps, --balance skip): G's loss as D judged the fakes in stage 1, no 2nd pass
            g_loss, g_codes = self.loss.g_loss(fake_logits.float()), fake_codes
            g_info = self._info_loss(g_codes, codes)

        stats = step_stats(d_loss, g_loss, real_logits, fake_logits)
        if penalty is not None:
            stats["loss/D_penalty"] = penalty.detach()
        if g_info is not None:  # how well D tells G's categories apart: near 1 once G keeps them distinct
            stats["loss/info"] = g_info.detach()
            stats["info/accuracy"] = (g_codes.detach().argmax(1) == codes).float().mean()
        return stats

    def _judge_pair(self, real: torch.Tensor, fake: torch.Tensor, cond: tuple
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """D's logits on the real and on the fake batch (and the fakes' category logits).

        One pass over both batches when D judges each sample on its own (no batch norm, no minibatch
        std): the same result, with one spectral-norm update and larger, faster convolutions."""
        if self.joint_d and real.shape == fake.shape:
            logits, codes = self._judge(torch.cat([real, fake]), tuple(torch.cat([c, c]) for c in cond))
            half = len(logits) // 2
            return logits[:half], logits[half:], None if codes is None else codes[half:]
        real_logits = self.D(real, *cond)
        return (real_logits, *self._judge(fake, cond))

    def _judge(self, images: torch.Tensor, cond: tuple) -> tuple[torch.Tensor, torch.Tensor | None]:
        """D's logits, and its latent-category logits when this is an InfoGAN (one pass for both)."""
        if self.latent_classes:
            return self.D.forward_with_codes(images)
        return self.D(images, *cond), None

    def _info_loss(self, code_logits: torch.Tensor | None, codes: torch.Tensor | None) -> torch.Tensor | None:
        if code_logits is None or codes is None:
            return None
        return F.cross_entropy(code_logits.float(), codes)  # unweighted: the steps weight it, the log shows it


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
                upsample=config.upsample, **d_options(config))
    if config.latent_classes:  # only when on: older checkpoints keep their model_args
        args["latent_classes"] = config.latent_classes
    return args if config.aspect == "1:1" else {**args, "aspect": config.aspect}  # square: as before issue 10


def d_options(config: TrainConfig) -> dict[str, Any]:
    """D's architectural stabilisers, only when on (so checkpoints without them keep their keys)."""
    options: dict[str, Any] = {}
    if config.minibatch_std:
        options["minibatch_std"] = True
    if config.pack > 1:
        options["pack"] = config.pack  # PacGAN: D's input has pack x the channels
    return options


def make_gan_step(config: TrainConfig, G: nn.Module, D: nn.Module, opt_G: torch.optim.Optimizer,
                  opt_D: torch.optim.Optimizer, device: torch.device, precision: str,
                  conditional: bool = False) -> GANStep:
    """The GAN step with the config's loss (label smoothing included) and D penalties (WGAN-GP, lazy R1)."""
    from ganforge.losses.factory import make_loss

    loss = make_loss(config.loss, config.label_smoothing)
    penalty = DiscriminatorPenalty(loss.gradient_penalty, config.r1_gamma, config.r1_every)
    return GANStep(G, D, opt_G, opt_D, loss, device, precision, conditional=conditional, d_penalty=penalty,
                   latent_classes=config.latent_classes, info_weight=config.info_weight)


@RECIPES.register("gan")
class GANRecipe(Recipe):
    """Noise -> image; labels, if the data has them, are ignored."""

    name = "gan"

    def model_args(self) -> dict[str, Any]:
        return model_args(self.config)

    def make_step(self, G: nn.Module, D: nn.Module, opt_G: torch.optim.Optimizer, opt_D: torch.optim.Optimizer,
                  device: torch.device, precision: str) -> Step:
        return make_gan_step(self.config, G, D, opt_G, opt_D, device, precision)

    def sample_inputs(self, device: torch.device) -> dict[str, torch.Tensor]:
        """InfoGAN: one grid row per latent category (what G has made of each)."""
        classes = self.config.latent_classes
        if not classes:
            return super().sample_inputs(device)
        per_row = max(1, self.config.sample_count // classes)
        z = torch.randn(classes * per_row, self.config.latent_dim,
                        generator=torch.Generator().manual_seed(self.config.seed + 2))
        return {"z": with_category(z, torch.arange(classes).repeat_interleave(per_row), classes).to(device)}

    def sample_grid(self, G: nn.Module, inputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, int]:
        """InfoGAN: a row per category when each has 4 or more samples, else the categories in reading order."""
        if not self.config.latent_classes:
            return super().sample_grid(G, inputs)
        images = G(inputs["z"])
        per_category = max(1, self.config.sample_count // self.config.latent_classes)
        return images, per_category if per_category >= 4 else max(1, round(len(images) ** 0.5))



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

    def make_step(self, G: nn.Module, D: nn.Module, opt_G: torch.optim.Optimizer, opt_D: torch.optim.Optimizer,
                  device: torch.device, precision: str) -> Step:
        return make_gan_step(self.config, G, D, opt_G, opt_D, device, precision, conditional=True)

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

    def checkpoint_extras(self) -> dict[str, Any]:
        return {"class_names": list(self.dataset.class_names)}
