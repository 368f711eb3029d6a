"""Adversarial losses as pure functions of D's logits (never probabilities).

Each loss is a pair: `d_loss(real_logits, fake_logits)` that D minimises (real -> 1, fake -> 0)
and `g_loss(fake_logits)` that G minimises (fake -> "real").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
import torch.nn.functional as F

from ganforge.registry import Registry


class AdversarialLoss(NamedTuple):
    d_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    g_loss: Callable[[torch.Tensor], torch.Tensor]


LOSSES: Registry[AdversarialLoss] = Registry("loss")


def d_loss_bce(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """-log D(x) - log(1 - D(G(z))): binary cross-entropy with real=1, fake=0."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def g_loss_nonsat(fake_logits: torch.Tensor) -> torch.Tensor:
    """-log D(G(z)): G's "target real" loss; strong gradients when D rejects the fakes."""
    return F.softplus(-fake_logits).mean()


def g_loss_minimax(fake_logits: torch.Tensor) -> torch.Tensor:
    """log(1 - D(G(z))): the original minimax objective; its gradient vanishes when D wins."""
    return -F.softplus(fake_logits).mean()


LOSSES.register("nonsat")(AdversarialLoss(d_loss_bce, g_loss_nonsat))
LOSSES.register("minimax")(AdversarialLoss(d_loss_bce, g_loss_minimax))
