"""Everything a config asks for to keep the G/D duel healthy (which settings combine is checked by the config,
config/checks.py): the loss with label smoothing (used by the GAN step, beside D's penalties in losses/penalties.py),
and, built in one place for the loop, what D sees (augmentation, instance noise, packing), the
balance policy and the training doctor. NaN/inf is not the doctor's: training/rollback.py handles it."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ganforge.config import TrainConfig, flag_name
from ganforge.config.auto import DCGAN_FAMILY, DCGAN_RECIPE
from ganforge.config.checks import spec_for
from ganforge.data import ImageDataset
from ganforge.data.augment import AdaptiveAugment
from ganforge.images import from_uint8
from ganforge.losses.factory import make_loss
from ganforge.losses.relativistic import RELATIVISTIC_LOSSES
from ganforge.recipes import Recipe
from ganforge.training.balance import Decision, make_balance
from ganforge.training.coverage import CoverageCheck
from ganforge.training.d_input import DiscriminatorInput
from ganforge.training.doctor import TrainingDoctor, class_diversity_ratio, diversity_ratio, grad_norm
from ganforge.training.events import Event


def collapse_remedy(cfg: TrainConfig) -> str:
    """What a collapse or coverage report suggests: the remedies this run's model takes and it does not use yet
    (the combinations each model refuses are checked by the config: config/checks.py)."""
    spec = spec_for(cfg)
    options = []
    takes_pack = not spec.refused("pack", 2, 1)
    if takes_pack and not cfg.latent_classes:  # an InfoGAN's D, like a conditional one, judges one sample at a time
        options.append("--pack 2 (PacGAN)" if cfg.pack == 1 else f"--pack {2 * cfg.pack} (PacGAN; now {cfg.pack})")
    if not cfg.minibatch_std and not spec.refused("minibatch_std", True, False):
        options.append("--minibatch-std")
    if not cfg.ema_beta:
        options.append("--ema-beta 0.999")
    if not (cfg.loss == "hinge" and cfg.spectral_norm) and not spec.refused("spectral_norm", True, False):
        options.append("--loss hinge with --spectral-norm")
    if spec.refused("spectral_norm", True, False):  # msg, progressive, fastgan: D has its own stabilisers
        options.append("--balance ttur with --lr-d above --lr-g (e.g. 4e-4, 1e-4)")
    if not options:
        return "Try a lower --lr-g, or --balance ttur with --lr-d above --lr-g."
    return _try(options)


def _try(options: list[str]) -> str:
    """The options as one suggestion: Try A, B, or C."""
    return "Try " + (", ".join(options[:-1]) + ", or " if len(options) > 1 else "") + options[-1] + "."


def class_collapse_remedy(cfg: TrainConfig) -> str:
    """What a collapse within classes suggests: for a DCGAN, auto's recipe for it as a whole, where the run does not
    use it yet. On Tux Paint stamps (benchmarks/doctor_folders.py, docs/results.md) it kept every class varied on
    both seeds, while --minibatch-std, an EMA, hinge + spectral norm or no batch norm in D, each alone, did not."""
    missing = {name: value for name, value in DCGAN_RECIPE.items() if getattr(cfg, name) != value}
    if cfg.model not in DCGAN_FAMILY or not missing:
        return collapse_remedy(cfg)
    flags = " ".join(_flag(name, value) for name, value in missing.items())
    also = "" if cfg.minibatch_std or spec_for(cfg).refused("minibatch_std", True, False) else \
        ", or --minibatch-std"
    return f"Try {flags} together (auto's recipe for a conditional DCGAN){also}."


def _flag(name: str, value: Any) -> str:
    """A setting as the command line writes it: `--spectral-norm`, `--no-d-batchnorm`, `--lr-g 0.0004`."""
    if isinstance(value, bool):
        return flag_name(name) if value else "--no-" + flag_name(name)[2:]
    return f"{flag_name(name)} {value:g}" if isinstance(value, float) else f"{flag_name(name)} {value}"


def dominance_remedy(cfg: TrainConfig) -> str:
    """What a long-held dominance report suggests: R1, stronger augmentation or a slower D, where the run does not
    use them yet and its model takes them. R1 comes first: on 146 Tux Paint drawings with ADA on it cut the gap
    most (0.78 -> 0.56 / 0.44 over two seeds, against 0.73 / 0.69 for half the rate; docs/results.md)."""
    spec = spec_for(cfg)
    options = []
    if not cfg.r1_gamma and not spec.refused("r1_gamma", 1.0, 0.0):
        options.append("--r1-gamma 1 (keeps D smooth around the real images)")
    if cfg.augment not in ("ada", "fixed") and not spec.refused("augment", "ada", "off"):
        options.append("--augment ada (D then cannot memorise a small folder)")
    if cfg.lr_d >= cfg.lr_g:
        options.append(f"a lower --lr-d (e.g. {cfg.lr_d / 2:g}, half of now)")
    if not options:
        return "Try a lower --lr-d still, or a stronger --augment-p / --ada-target."
    return _try(options)


CLASS_REAL = 16  # real images per class the within-class spread is measured on


def class_real_batch(dataset: ImageDataset, device: torch.device, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Up to CLASS_REAL fixed real images of every class, and their labels (for the within-class collapse check)."""
    g = torch.Generator().manual_seed(seed)
    chosen = []
    for c in range(len(dataset.class_names)):
        members = (dataset.labels == c).nonzero().flatten()
        chosen.append(members[torch.randperm(len(members), generator=g)[:CLASS_REAL]])
    picked = torch.cat(chosen)
    return from_uint8(dataset.images[picked]).to(device), dataset.labels[picked].to(device)


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
                                     collapse_remedy=collapse_remedy(cfg), dominance_remedy=dominance_remedy(cfg),
                                     class_collapse_remedy=class_collapse_remedy(cfg))
        self.seed = cfg.seed
        self.class_real: tuple[torch.Tensor, torch.Tensor] | None = None  # made at the first conditional check
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
        within = None
        dataset = getattr(recipe, "dataset", None)
        if "labels" in inputs and isinstance(dataset, ImageDataset) and dataset.labels is not None:
            if self.class_real is None:
                self.class_real = class_real_batch(dataset, real.device, self.seed + 5)
            within = class_diversity_ratio(recipe, G, self.d_input, inputs, *self.class_real)
        if within is not None:
            record["doctor/class_diversity"] = within
        coverage = None
        if coverage_check is not None:
            coverage = coverage_check(recipe, G_ema if G_ema is not None else G, self.d_input)
        if coverage is not None:
            record[f"doctor/{coverage.kind}_covered"] = coverage.covered
            record[f"doctor/{coverage.kind}_judged"] = coverage.judged
            if coverage.kind == "classes":
                record["doctor/class_accuracy"] = coverage.accuracy
        return self.doctor.check(record, ratio, coverage, within)

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
