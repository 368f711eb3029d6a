"""Everything a config asks for to keep the G/D duel healthy: the checks of how the settings combine,
the loss with label smoothing (used by the GAN step, beside D's penalties in losses/penalties.py),
and, built in one place for the loop, what D sees (augmentation, instance noise, packing), the
balance policy and the training doctor. NaN/inf is not the doctor's: train/rollback.py handles it."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ganforge.config import TrainConfig
from ganforge.data.augment import AdaptiveAugment
from ganforge.errors import GanforgeError
from ganforge.losses.adversarial import LOSSES
from ganforge.losses.factory import make_loss
from ganforge.losses.relativistic import RELATIVISTIC_LOSSES
from ganforge.recipes import Recipe
from ganforge.train.balance import POLICIES, Decision, make_balance
from ganforge.train.coverage import CoverageCheck
from ganforge.train.d_input import DiscriminatorInput
from ganforge.train.doctor import TrainingDoctor, diversity_ratio, grad_norm
from ganforge.train.events import Event

SMALL_DATA = 5_000  # below this many images, `--augment auto` turns on adaptive augmentation
AUGMENT_MODES = ("auto", "off", "ada", "fixed")


def check_config(cfg: TrainConfig) -> None:
    """The stabiliser and balance settings that cannot work together (numeric ranges: config/ranges.py)."""
    if cfg.model in HIGHRES_MODELS:
        _check_highres_remedies(cfg)
    elif cfg.loss in RELATIVISTIC_LOSSES:
        raise GanforgeError(f"--loss {cfg.loss} works with --model {', '.join(HIGHRES_MODELS)}; "
                            "for dcgan choose nonsat, minimax, hinge, lsgan or wgan-gp")
    else:
        make_loss(cfg.loss, cfg.label_smoothing)  # unknown loss, or smoothing a loss without labels
    if cfg.batch_size % cfg.pack:
        raise GanforgeError(f"--batch-size {cfg.batch_size} must be a multiple of --pack {cfg.pack}")
    if cfg.augment not in AUGMENT_MODES:
        raise GanforgeError(f"--augment must be one of {', '.join(AUGMENT_MODES)}, got {cfg.augment!r}")
    if cfg.balance not in POLICIES:
        raise GanforgeError(f"--balance must be one of {', '.join(POLICIES)}, got {cfg.balance!r}")
    if cfg.d_steps > 1 and cfg.balance not in ("fixed", "ttur"):
        raise GanforgeError(f"--d-steps works with --balance fixed or ttur, not {cfg.balance}")
    if cfg.balance == "ttur" and cfg.lr_d == cfg.lr_g:
        raise GanforgeError("--balance ttur needs different learning rates: set --lr-d above --lr-g (e.g. 4e-4, 1e-4)")
    _check_recipe(cfg)


HIGHRES_MODELS = ("msg", "progressive", "fastgan")  # their recipes bring their own D input (recipes/highres.py)
HIGHRES_COLLAPSE_REMEDY = ("Try --ema-beta 0.999, or --balance ttur with --lr-d above --lr-g (e.g. 4e-4, 1e-4); these "
                           "models' D already has minibatch std (msg, progressive) or augmentation (fastgan).")


def collapse_remedy(cfg: TrainConfig) -> str:
    """What a collapse or coverage report suggests: the remedies this run takes and does not use yet."""
    if cfg.model in HIGHRES_MODELS:  # they refuse --pack, --minibatch-std and --spectral-norm (below)
        return HIGHRES_COLLAPSE_REMEDY
    from ganforge.recipes import recipe_name

    options = []
    if recipe_name(cfg) not in ("conditional", "infogan"):  # both need D to judge one sample at a time
        options.append("--pack 2 (PacGAN)" if cfg.pack == 1 else f"--pack {2 * cfg.pack} (PacGAN; now {cfg.pack})")
    if not cfg.minibatch_std:
        options.append("--minibatch-std")
    if not cfg.ema_beta:
        options.append("--ema-beta 0.999")
    if not (cfg.loss == "hinge" and cfg.spectral_norm):
        options.append("--loss hinge with --spectral-norm")
    if not options:
        return "Try a lower --lr-g, or --balance ttur with --lr-d above --lr-g."
    return "Try " + (", ".join(options[:-1]) + ", or " if len(options) > 1 else "") + options[-1] + "."


def _check_highres_remedies(cfg: TrainConfig) -> None:
    """msg's D takes a list of scales, fastgan augments and spectral-normalises its own D and progressive has its
    own minibatch-std: issue 3's D-input stabilisers are refused for them rather than half-applied."""
    refused = {"--pack": cfg.pack > 1, "--minibatch-std": cfg.minibatch_std, "--instance-noise": cfg.instance_noise > 0,
               "--r1-gamma": cfg.r1_gamma > 0, f"--augment {cfg.augment}": cfg.augment in ("ada", "fixed"),
               "--label-smoothing": cfg.label_smoothing > 0, "--spectral-norm": cfg.spectral_norm,
               f"--balance {cfg.balance}": cfg.balance in ("skip", "adaptive")}
    named = [flag for flag, on in refused.items() if on]
    if named:
        raise GanforgeError(f"{', '.join(named)}: not available for --model {cfg.model}; it supports --loss, "
                            "--ema-beta, --d-steps and --balance fixed/ttur")


def _check_recipe(cfg: TrainConfig) -> None:
    """Stabilisers that have no meaning for the run's recipe: refused, never silently ignored."""
    from ganforge.recipes import recipe_name

    recipe = recipe_name(cfg)
    if recipe == "conditional" and cfg.pack > 1:
        raise GanforgeError("--pack: a class-conditional D judges each sample with its own label, so samples cannot "
                            "be packed; use --minibatch-std to let D see the batch's spread instead")
    if recipe == "points" and cfg.eval_every:
        raise GanforgeError("--eval-every scores images; 2D point runs are scored by `ganforge bench modes`")
    if recipe != "pix2pix":
        return
    refused = {"--pack": cfg.pack > 1, "--minibatch-std": cfg.minibatch_std, "--instance-noise": cfg.instance_noise > 0,
               "--r1-gamma": cfg.r1_gamma > 0, f"--augment {cfg.augment}": cfg.augment in ("ada", "fixed"),
               "--loss wgan-gp": LOSSES.get(cfg.loss).gradient_penalty > 0,
               f"--balance {cfg.balance}": cfg.balance in ("skip", "adaptive") and cfg.adversarial_weight == 0}
    named = [flag for flag, on in refused.items() if on]
    if named:
        raise GanforgeError(f"{', '.join(named)}: not available for pix2pix (--model pix2pix); it supports "
                            "--spectral-norm, --label-smoothing and --balance fixed/ttur/skip/adaptive")


def resolve_augment(cfg: TrainConfig, dataset_size: int, points: bool) -> str:
    """`auto` -> `ada` for image sets under 5,000 images, `off` otherwise; 2D points and pix2pix pairs are never
    augmented."""
    if points:
        if cfg.augment in ("ada", "fixed"):
            raise GanforgeError("--augment: image augmentation does not apply to 2D point data; use --augment off")
        return "off"
    if cfg.model == "pix2pix" or cfg.model in HIGHRES_MODELS:
        return "off" if cfg.augment == "auto" else cfg.augment
    if cfg.augment == "auto":
        return "ada" if dataset_size < SMALL_DATA else "off"
    return cfg.augment


class Remedies:
    """Built by the loop; the recipe's step gets `d_input` as its D, so it needs to know none of this."""

    def __init__(self, cfg: TrainConfig, D: nn.Module, opt_D: torch.optim.Optimizer) -> None:
        relativistic = cfg.loss in RELATIVISTIC_LOSSES  # msg / progressive / fastgan: losses/relativistic.py
        penalised = not relativistic and make_loss(cfg.loss, cfg.label_smoothing).gradient_penalty > 0
        augment = None
        if cfg.augment in ("ada", "fixed"):
            augment = AdaptiveAugment(cfg.augment_p, adaptive=cfg.augment == "ada", target=cfg.ada_target,
                                      batch_size=cfg.batch_size)
        self.d_input = DiscriminatorInput(D, augment, cfg.pack, cfg.instance_noise, cfg.noise_anneal_steps)
        self.balance = make_balance(cfg.balance, cfg.loss, opt_D, cfg.d_steps, cfg.skip_d_below,
                                    cfg.skip_g_above, cfg.balance_target)
        self.doctor = TrainingDoctor(check_imbalance=not penalised,  # WGAN-GP's D loss has no 'too low'
                                     collapse_remedy=collapse_remedy(cfg))
        self.d_params = list(self.d_input.parameters())  # gathered once: walking the modules every step costs

    def after_step(self, step: int, stats: dict[str, torch.Tensor], decision: Decision,
                   G_params: list[torch.Tensor]) -> list[Event]:
        """Adds gradient norms and balance/augmentation values to `stats`; returns the balance's events."""
        stats["grad/G"] = grad_norm(G_params)
        stats["grad/D"] = grad_norm(self.d_params)
        stats.update(self.balance.metrics(decision))
        self.d_input.update(step, stats)
        if self.d_input.augment is not None:
            stats["augment/p"] = torch.tensor(self.d_input.augment.p)
        return self.balance.observe(step, stats)

    def examine(self, record: dict[str, Any], recipe: Recipe, G: nn.Module, inputs: dict[str, torch.Tensor],
                real: torch.Tensor, coverage_check: CoverageCheck | None = None,
                G_ema: nn.Module | None = None) -> list[Event]:
        """The doctor's check at a log step: G's samples for the fixed sample inputs against a fixed real
        batch (adds their diversity ratio to the record) and, for labelled or 2D mixture data, the classes or
        modes covered by the generator that sampling uses, the EMA copy when there is one (adds e.g.
        `doctor/classes_covered` of `doctor/classes_judged`; a raw G with EMA on wanders between modes)."""
        ratio = diversity_ratio(recipe, G, self.d_input, inputs, real)
        if ratio is not None:
            record["doctor/diversity"] = ratio
        coverage = None
        if coverage_check is not None:
            coverage = coverage_check(recipe, G_ema if G_ema is not None else G, self.d_input)
        if coverage is not None:
            record[f"doctor/{coverage.kind}_covered"] = coverage.covered
            record[f"doctor/{coverage.kind}_judged"] = coverage.judged
            if coverage.kind == "classes":
                record["doctor/class_accuracy"] = coverage.accuracy
        return self.doctor.check(record, ratio, coverage)

    def state_dict(self) -> dict[str, Any]:
        augment = self.d_input.augment
        return {"balance": self.balance.state_dict(), "doctor": self.doctor.state_dict(),
                "augment": augment.state_dict() if augment else None}

    def load_state_dict(self, state: dict[str, Any] | None, step: int) -> None:
        """`state` is None for checkpoints written before these remedies existed: defaults then."""
        if state:
            self.balance.load_state_dict(state["balance"])
            self.doctor.load_state_dict(state["doctor"])
            if self.d_input.augment is not None and state["augment"] is not None:
                self.d_input.augment.load_state_dict(state["augment"])
        self.d_input.update(step, {})
