"""Everything a config asks for to keep the G/D duel healthy, built in one place for the loop:
the loss (with label smoothing), D's penalties (WGAN-GP, lazy R1), what D sees (augmentation,
instance noise, packing), the balance policy, and the training doctor."""

from __future__ import annotations

import functools
from typing import Any

import torch
from torch import nn

from ganforge.config import TrainConfig
from ganforge.data.augment import AdaptiveAugment
from ganforge.errors import GanforgeError
from ganforge.losses import LOSSES, AdversarialLoss
from ganforge.train.balance import POLICIES, Decision, make_balance
from ganforge.train.d_input import DiscriminatorInput
from ganforge.train.doctor import TrainingDoctor, diversity_ratio, grad_norm
from ganforge.train.events import Event
from ganforge.train.penalties import DiscriminatorPenalty

SMALL_DATA = 5_000  # below this many images, `--augment auto` turns on adaptive augmentation
AUGMENT_MODES = ("auto", "off", "ada", "fixed")


def check_config(cfg: TrainConfig) -> None:
    """The stabiliser and balance settings that cannot work, each named by its flag."""
    if not 0 <= cfg.label_smoothing < 0.5:
        raise GanforgeError(f"--label-smoothing must be in [0, 0.5) (e.g. 0.1), got {cfg.label_smoothing}")
    make_loss(cfg.loss, cfg.label_smoothing)  # unknown loss, or smoothing a loss without labels
    for name in ("instance_noise", "r1_gamma", "augment_p"):
        if getattr(cfg, name) < 0:
            raise GanforgeError(f"--{name.replace('_', '-')} must not be negative, got {getattr(cfg, name)}")
    for name in ("noise_anneal_steps", "r1_every", "pack", "d_steps"):
        value = getattr(cfg, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise GanforgeError(f"--{name.replace('_', '-')} must be a positive whole number, got {value!r}")
    if cfg.batch_size % cfg.pack:
        raise GanforgeError(f"--batch-size {cfg.batch_size} must be a multiple of --pack {cfg.pack}")
    if cfg.augment not in AUGMENT_MODES:
        raise GanforgeError(f"--augment must be one of {', '.join(AUGMENT_MODES)}, got {cfg.augment!r}")
    if cfg.augment_p > 1 or not 0 < cfg.ada_target < 1:
        raise GanforgeError("--augment-p must be in [0, 1] and --ada-target in (0, 1)")
    if cfg.balance not in POLICIES:
        raise GanforgeError(f"--balance must be one of {', '.join(POLICIES)}, got {cfg.balance!r}")
    if cfg.d_steps > 1 and cfg.balance not in ("fixed", "ttur"):
        raise GanforgeError(f"--d-steps works with --balance fixed or ttur, not {cfg.balance}")
    if cfg.balance == "ttur" and cfg.lr_d == cfg.lr_g:
        raise GanforgeError("--balance ttur needs different learning rates: set --lr-d above --lr-g (e.g. 4e-4, 1e-4)")
    if not 0 < cfg.balance_target < 1:
        raise GanforgeError(f"--balance-target must be in (0, 1), got {cfg.balance_target}")


def resolve_augment(cfg: TrainConfig, dataset_size: int, points: bool) -> str:
    """`auto` -> `ada` for image sets under 5,000 images, `off` otherwise; 2D points are never augmented."""
    if points:
        if cfg.augment in ("ada", "fixed"):
            raise GanforgeError("--augment: image augmentation does not apply to 2D point data; use --augment off")
        return "off"
    if cfg.augment == "auto":
        return "ada" if dataset_size < SMALL_DATA else "off"
    return cfg.augment


def make_loss(name: str, label_smoothing: float = 0.0) -> AdversarialLoss:
    """The registered loss; one-sided label smoothing makes D aim for 1 - s on reals, never on fakes."""
    loss = LOSSES.get(name)
    if label_smoothing and not loss.smoothable:
        raise GanforgeError(f"--label-smoothing works with --loss nonsat, minimax or lsgan, not {name}")
    if label_smoothing:
        loss = loss._replace(d_loss=functools.partial(loss.d_loss, real_target=1.0 - label_smoothing))
    return loss


class Remedies:
    DOCTOR_BATCH = 128

    def __init__(self, cfg: TrainConfig, D: nn.Module, opt_D: torch.optim.Optimizer) -> None:
        self.loss = make_loss(cfg.loss, cfg.label_smoothing)
        self.penalty = DiscriminatorPenalty(self.loss.gradient_penalty, cfg.r1_gamma, cfg.r1_every)
        augment = None
        if cfg.augment in ("ada", "fixed"):
            augment = AdaptiveAugment(cfg.augment_p, adaptive=cfg.augment == "ada", target=cfg.ada_target,
                                      batch_size=cfg.batch_size)
        self.d_input = DiscriminatorInput(D, augment, cfg.pack, cfg.instance_noise, cfg.noise_anneal_steps)
        self.balance = make_balance(cfg.balance, cfg.loss, opt_D, cfg.lr_d, cfg.d_steps, cfg.skip_d_below,
                                    cfg.skip_g_above, cfg.balance_target)
        self.doctor = TrainingDoctor(check_imbalance=not self.loss.gradient_penalty)

    def after_step(self, step: int, stats: dict[str, torch.Tensor], decision: Decision,
                   G: nn.Module) -> list[Event]:
        """Adds gradient norms and balance/augmentation values to `stats`; returns the balance's events."""
        stats["grad/G"] = grad_norm(G)
        stats["grad/D"] = grad_norm(self.d_input)
        stats.update(self.balance.metrics(decision))
        self.d_input.update(step, stats)
        if self.d_input.augment is not None:
            stats["augment/p"] = torch.tensor(self.d_input.augment.p)
        return self.balance.observe(step, stats)

    def examine(self, record: dict[str, Any], G: nn.Module, z: torch.Tensor, real: torch.Tensor) -> list[Event]:
        """The doctor's check at a log step (adds the diversity ratio to the record)."""
        ratio = diversity_ratio(G, self.d_input, z[: self.DOCTOR_BATCH], real[: self.DOCTOR_BATCH])
        if ratio is not None:
            record["doctor/diversity"] = ratio
        return self.doctor.check(record, ratio)

    def state_dict(self) -> dict[str, Any]:
        augment = self.d_input.augment
        return {"penalty": self.penalty.state_dict(), "balance": self.balance.state_dict(),
                "doctor": self.doctor.state_dict(), "augment": augment.state_dict() if augment else None}

    def load_state_dict(self, state: dict[str, Any], step: int) -> None:
        self.penalty.load_state_dict(state["penalty"])
        self.balance.load_state_dict(state["balance"])
        self.doctor.load_state_dict(state["doctor"])
        if self.d_input.augment is not None and state["augment"] is not None:
            self.d_input.augment.load_state_dict(state["augment"])
        self.d_input.update(step, {})
