"""R3GAN's training (Huang et al. 2024): the RpGAN loss with zero-centred R1 and R2 penalties, and its schedule.

D's update: softplus(-(D(x_i) - D(G(z_i)))) over (real, fake) pairs, plus gamma/2 * (E|grad D(x)|^2 + E|grad
D(G(z))|^2), computed every update (not lazily) from the same pass as the loss, as the paper's code does. G's
update: the same pairs with the roles swapped, D frozen. Over the schedule's horizon (--decay-steps: the run's
length by default) both learning rates fall on a cosine to 1/4, gamma to 1/10 and Adam's beta2 rises from 0.9
to --beta2 (the paper's presets: lr 2e-4 -> 5e-5, gamma -> gamma/10, beta2 0.9 -> 0.99), then they hold.
Unlike the paper's loop, D's and G's update share one real batch and one z per step (the loop draws one).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import torch

from ganforge.config import TrainConfig, planned_steps  # the loop's own reading of --steps / --epochs
from ganforge.data import ImageDataset
from ganforge.errors import GanforgeError
from ganforge.losses.adversarial import squared_gradient_norms
from ganforge.losses.relativistic import PairLoss, pair_loss
from ganforge.recipes.base import RECIPES, Recipe, Step, StepParts, step_stats
from ganforge.recipes.gan import ConditionalGANRecipe
from ganforge.runtime import autocast

LR_FINAL = 1 / 4  # of the starting rates (paper: 2e-4 -> 5e-5)
GAMMA_FINAL = 1 / 10  # of --gamma (every paper preset: e.g. 0.05 -> 0.005 on CIFAR-10)
BETA2_START = 0.9  # Adam's beta2 rises from here to --beta2 (paper: 0.9 -> 0.99)


def cosine(progress: float, start: float, end: float) -> float:
    """From start (progress 0) to end (progress 1) on half a cosine; end after that."""
    return start + (end - start) * (1 - math.cos(math.pi * min(max(progress, 0.0), 1.0))) / 2


class R3GANSchedule:
    """Where the run is on its horizon, and the learning-rate factor, beta2 and gamma there.

    The horizon is fixed when the run starts and saved with it (`state_dict`), so a resumed run continues
    the same curve, and a run extended past it holds the final values (as the paper's do past 20M images).
    horizon > 0: steps; 0: constant values; None: the time budget (`budget_s`), each invocation spending the
    rest of the curve over its own budget."""

    def __init__(self, gamma: float, beta2: float, horizon: int | None, budget_s: float | None) -> None:
        self.gamma, self.beta2 = gamma, beta2
        self.horizon, self.budget_s = horizon, budget_s
        self.steps = 0  # G updates so far (one per loop step)
        self.lr_factor = 1.0  # the factor the optimisers' rates carry now (rates are scaled, not set)
        self._time_start: tuple[float, float] | None = None  # (clock, progress) at this invocation's first step
        self._progress = 0.0
        self.clock: Callable[[], float] = time.monotonic  # the Trainer's: what its time budget counts

    def use_clock(self, clock: Callable[[], float]) -> None:
        """Count time with `clock` from now on (the Trainer's, which may count CPU seconds)."""
        self.clock, self._time_start = clock, None

    def progress(self) -> float:
        if self.horizon is not None:
            return self.steps / self.horizon if self.horizon else 0.0
        if self.budget_s:
            now = self.clock()
            if self._time_start is None:
                self._time_start = (now, self._progress)
            started, base = self._time_start
            self._progress = base + (1 - base) * min((now - started) / self.budget_s, 1.0)
        return self._progress

    def values(self, progress: float) -> tuple[float, float, float]:
        """(learning-rate factor, beta2, gamma) at this point of the curve."""
        return (cosine(progress, 1.0, LR_FINAL), cosine(progress, min(BETA2_START, self.beta2), self.beta2),
                cosine(progress, self.gamma, self.gamma * GAMMA_FINAL))

    def apply(self, optimizers: list[torch.optim.Optimizer]) -> float:
        """Before an update: move the rates and beta2 to this point of the curve; returns gamma here.
        Rates are multiplied by the change of factor, so what else scales them (the NaN roll-back) still holds."""
        lr_factor, beta2, gamma = self.values(self.progress())
        ratio = lr_factor / self.lr_factor
        for opt in optimizers:
            for group in opt.param_groups:
                group["lr"] *= ratio
                if "betas" in group:  # Adam's (another optimiser keeps its own)
                    group["betas"] = (group["betas"][0], beta2)
        self.lr_factor = lr_factor
        return gamma

    def state_dict(self) -> dict[str, Any]:
        return {"steps": self.steps, "horizon": self.horizon, "lr_factor": self.lr_factor,
                "progress": self.progress() if self.horizon is None else None}

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        state = state or {}
        self.steps = int(state.get("steps", 0))
        self.horizon = state.get("horizon", self.horizon)
        self.lr_factor = float(state.get("lr_factor", 1.0))
        self._progress, self._time_start = float(state.get("progress") or 0.0), None


class R3GANStep:
    """Stage 1: D ranks each real above its paired fake, with R1 + R2. Stage 2: G, D frozen, the other way round.

    The step statistics read the pairs' relativistic logits D(x_i) - D(G(z_i)): D/real_prob is how surely D
    ranks reals first, D/real_sign (ADA's overfitting signal) the share of pairs it ranks right, minus the rest,
    as the paper logs it; with a relativistic loss D's own logits have no fixed zero."""

    def __init__(self, parts: StepParts, loss: PairLoss, schedule: R3GANSchedule, conditional: bool = False) -> None:
        self.parts, self.G, self.D = parts, parts.G, parts.D
        self.loss, self.schedule, self.conditional = loss, schedule, conditional
        self.device, self.precision = parts.device, parts.precision
        self.d_params = list(self.D.parameters())

    def __call__(self, real: torch.Tensor, z: torch.Tensor, labels: torch.Tensor | None = None,
                 train_d: bool = True, train_g: bool = True) -> dict[str, torch.Tensor]:
        G, D, parts = self.G, self.D, self.parts
        cond = (labels,) if self.conditional else ()
        gamma = self.schedule.apply([parts.opt_G, parts.opt_D])
        with autocast(self.device, self.precision), torch.set_grad_enabled(train_g):
            fake = G(z, *cond)

        # Stage 1: real and fake in one pass (no layer of D mixes samples); the penalties' gradients come from it
        _set_trainable(self.d_params, True)
        half = len(real)
        penalise = train_d and gamma > 0
        inputs = torch.cat([real, fake.detach()]).requires_grad_(penalise)
        with autocast(self.device, self.precision):
            logits = D(inputs, *(torch.cat([c, c]) for c in cond)).float()
        real_logits, fake_logits = logits[:half], logits[half:]
        d_loss = self.loss.d_loss(real_logits, fake_logits)
        extra: dict[str, torch.Tensor] = {}
        if train_d:
            total = d_loss
            if penalise:
                norms = squared_gradient_norms(logits, inputs)  # (2B,): R1's terms, then R2's
                r1, r2 = norms[:half].mean(), norms[half:].mean()
                total = d_loss + (gamma / 2) * (r1 + r2)
                extra = {"r3gan/R1": r1.detach(), "r3gan/R2": r2.detach()}
            parts.update_D(total)

        # Stage 2: G against the updated D; D(x) is only read, so it needs no graph
        if train_g:
            _set_trainable(self.d_params, False)
            with autocast(self.device, self.precision):
                g_fake = D(fake, *cond).float()
                if self.loss.relativistic:
                    with torch.no_grad():
                        g_real = D(real, *cond).float()
                else:
                    g_real = real_logits.detach()
            g_loss = self.loss.g_loss(g_real, g_fake)
            parts.update_G(g_loss)
            _set_trainable(self.d_params, True)
            self.schedule.steps += 1
        else:  # a D-only update (--d-steps): G's loss as D judged the pairs in stage 1
            g_loss = self.loss.g_loss(real_logits.detach(), fake_logits.detach())

        pair = (real_logits - fake_logits).detach()
        stats = step_stats(d_loss, g_loss, pair, -pair)
        return {**stats, **extra, "r3gan/gamma": torch.tensor(gamma)}


def _set_trainable(params: list[torch.Tensor], trainable: bool) -> None:
    """Module.requires_grad_ without the walk over the module tree (per step, it shows on small models)."""
    for p in params:
        p.requires_grad_(trainable)


def planned_horizon(config: TrainConfig, dataset: ImageDataset) -> int | None:
    """--decay-steps, else the run's planned steps (None: only a time budget)."""
    if config.decay_steps is not None:
        return config.decay_steps

    return planned_steps(config, len(dataset))


@RECIPES.register("r3gan")
class R3GANRecipe(Recipe):
    """Noise -> image with R3GAN's networks, loss, penalties and schedule; labels, if any, are ignored."""

    name = "r3gan"
    conditional = False
    memory_format = torch.contiguous_format  # the penalties' double backward pass copies channels_last maps

    def __init__(self, config: TrainConfig, dataset: ImageDataset) -> None:
        super().__init__(config, dataset)
        horizon = planned_horizon(config, dataset)
        if horizon is None:
            from ganforge.training import distributed

            if distributed.launched_by_torchrun():  # each process's clock differs: their rates would drift apart
                raise GanforgeError("--model r3gan over a time budget alone is not supported with several "
                                    "processes (torchrun); give --steps or --decay-steps")
        budget = config.max_minutes * 60 if config.max_minutes else None
        self.schedule = R3GANSchedule(config.gamma, config.beta2, horizon, budget)

    def model_args(self) -> dict[str, Any]:
        cfg = self.config
        return dict(resolution=cfg.resolution, channels=cfg.channels, latent_dim=cfg.latent_dim,
                    g_width=cfg.g_width, d_width=cfg.d_width)

    def make_step(self, parts: StepParts) -> Step:
        return R3GANStep(parts, pair_loss(self.config.loss), self.schedule, conditional=self.conditional)

    def state_dict(self) -> dict[str, Any]:
        return {"schedule": self.schedule.state_dict()}

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        self.schedule.load_state_dict((state or {}).get("schedule"))


@RECIPES.register("conditional-r3gan")
class ConditionalR3GANRecipe(R3GANRecipe, ConditionalGANRecipe):
    """(noise, class) -> image: R3GAN's training with the conditional GAN's data checks and sample grid."""

    name = "conditional-r3gan"
    conditional = True

    def model_args(self) -> dict[str, Any]:
        return {**super().model_args(), "num_classes": self.dataset.num_classes}
