"""Losses where both players see both kinds of logits: relativistic ones (G's loss needs D's real
logits too), and an adaptor giving the plain losses of losses/adversarial.py the same (real, fake) form.

Relativistic average hinge (Jolicoeur-Martineau 2019), the loss of MSG-GAN: D judges whether a real
image is more realistic than the average fake, and vice versa, so G also learns from the reals.
RpGAN (relativistic pairing), the loss of R3GAN: the same question asked of each (real, fake) pair.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
import torch.nn.functional as F

from ganforge.registry import Registry


class PairLoss(NamedTuple):
    d_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (real_logits, fake_logits)
    g_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (real_logits, fake_logits)
    relativistic: bool = False  # G's loss reads D's real logits (the step recomputes them after D's update)


RELATIVISTIC_LOSSES: Registry[PairLoss] = Registry("relativistic loss")


def d_loss_rahinge(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """max(0, 1 - (D(x) - mean D(G(z)))) + max(0, 1 + (D(G(z)) - mean D(x)))."""
    return (F.relu(1 - (real_logits - fake_logits.mean())).mean()
            + F.relu(1 + (fake_logits - real_logits.mean())).mean())


def g_loss_rahinge(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """The same hinge with the roles swapped: fakes should look more real than the average real."""
    return d_loss_rahinge(fake_logits, real_logits)


def d_loss_rpgan(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """softplus(-(D(x_i) - D(G(z_i)))) averaged over pairs i: D ranks each real above the fake paired with it.
    Why pairs: every fake is judged against a real, so D cannot simply push all fakes down at once (R3GAN)."""
    return F.softplus(fake_logits - real_logits).mean()


def g_loss_rpgan(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """softplus(-(D(G(z_i)) - D(x_i))): the same pairs with the roles swapped."""
    return F.softplus(real_logits - fake_logits).mean()


RELATIVISTIC_LOSSES.register("rahinge")(PairLoss(d_loss_rahinge, g_loss_rahinge, relativistic=True))
RELATIVISTIC_LOSSES.register("rpgan")(PairLoss(d_loss_rpgan, g_loss_rpgan, relativistic=True))


def is_loss_name(name: str) -> bool:
    from ganforge.losses.adversarial import LOSSES

    return name in LOSSES or name in RELATIVISTIC_LOSSES


def pair_loss(name: str) -> PairLoss:
    """A relativistic loss by name, or a plain one whose G loss ignores the real logits."""
    if name in RELATIVISTIC_LOSSES:
        return RELATIVISTIC_LOSSES.get(name)
    from ganforge.losses.adversarial import LOSSES

    plain = LOSSES.get(name)
    return PairLoss(lambda real, fake: plain.d_loss(real, fake), lambda real, fake: plain.g_loss(fake))
