"""Adversarial losses as pure functions of D's logits (never probabilities), and D's penalties.

Each loss is a pair: `d_loss(real_logits, fake_logits)` that D minimises (real -> 1, fake -> 0)
and `g_loss(fake_logits)` that G minimises (fake -> "real"). Penalties are pure functions of D's
logits and the inputs they were computed from (which must require grad).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
import torch.nn.functional as F

from ganforge.registry import Registry


class AdversarialLoss(NamedTuple):
    d_loss: Callable[..., torch.Tensor]
    g_loss: Callable[[torch.Tensor], torch.Tensor]
    gradient_penalty: float = 0.0  # weight of the WGAN-GP penalty on real/fake interpolates (0: none)
    smoothable: bool = False  # d_loss accepts real_target= (one-sided label smoothing)


LOSSES: Registry[AdversarialLoss] = Registry("loss")


def d_loss_bce(real_logits: torch.Tensor, fake_logits: torch.Tensor, real_target: float = 1.0) -> torch.Tensor:
    """-log D(x) - log(1 - D(G(z))): binary cross-entropy with real=real_target (1, or 0.9 smoothed), fake=0."""
    if real_target == 1.0:
        real_term = F.softplus(-real_logits).mean()
    else:
        real_term = F.binary_cross_entropy_with_logits(real_logits, torch.full_like(real_logits, real_target))
    return real_term + F.softplus(fake_logits).mean()


def g_loss_nonsat(fake_logits: torch.Tensor) -> torch.Tensor:
    """-log D(G(z)): G's "target real" loss; strong gradients when D rejects the fakes."""
    return F.softplus(-fake_logits).mean()


def g_loss_minimax(fake_logits: torch.Tensor) -> torch.Tensor:
    """log(1 - D(G(z))): the original minimax objective; its gradient vanishes when D wins."""
    return -F.softplus(fake_logits).mean()


def d_loss_hinge(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """max(0, 1 - D(x)) + max(0, 1 + D(G(z))): D stops pushing once a sample is beyond the margin."""
    return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()


def g_loss_hinge(fake_logits: torch.Tensor) -> torch.Tensor:
    """-D(G(z)): G raises D's score of its samples."""
    return -fake_logits.mean()


def d_loss_lsgan(real_logits: torch.Tensor, fake_logits: torch.Tensor, real_target: float = 1.0) -> torch.Tensor:
    """Least squares (Mao et al. 2017): 1/2 (D(x) - 1)^2 + 1/2 D(G(z))^2; no saturation far from the boundary."""
    return 0.5 * ((real_logits - real_target) ** 2).mean() + 0.5 * (fake_logits**2).mean()


def g_loss_lsgan(fake_logits: torch.Tensor) -> torch.Tensor:
    """1/2 (D(G(z)) - 1)^2."""
    return 0.5 * ((fake_logits - 1) ** 2).mean()


def d_loss_wgan(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """D(G(z)) - D(x): the critic's estimate of the Wasserstein distance, negated (needs a Lipschitz D)."""
    return fake_logits.mean() - real_logits.mean()


def g_loss_wgan(fake_logits: torch.Tensor) -> torch.Tensor:
    return -fake_logits.mean()


def _input_gradient(logits: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
    (grad,) = torch.autograd.grad(logits.sum(), inputs, create_graph=True)
    return grad.reshape(logits.shape[0], -1)  # (logits, features): a packed D's group of inputs is one row


def squared_gradient_norms(logits: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
    """||grad_x D(x)||^2 of each sample (or packed group), (B,); `inputs` must require grad. Differentiable."""
    return _input_gradient(logits, inputs).pow(2).sum(1)


def r1_penalty(real_logits: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Mean squared norm of D's gradient at real samples (Mescheder et al. 2018); `real` must require grad.

    Weight it by gamma / 2. Penalising only reals keeps D flat on the data, so G is not pulled past it.
    The same at fake samples is R2 (R3GAN penalises both: recipes/r3gan.py)."""
    return squared_gradient_norms(real_logits, real).mean()


def gradient_penalty(mixed_logits: torch.Tensor, mixed: torch.Tensor) -> torch.Tensor:
    """(||grad D(x_hat)|| - 1)^2 at real/fake interpolates x_hat (Gulrajani et al. 2017): keeps D 1-Lipschitz."""
    norms = _input_gradient(mixed_logits, mixed).norm(dim=1)
    return ((norms - 1) ** 2).mean()


LOSSES.register("nonsat")(AdversarialLoss(d_loss_bce, g_loss_nonsat, smoothable=True))
LOSSES.register("minimax")(AdversarialLoss(d_loss_bce, g_loss_minimax, smoothable=True))
LOSSES.register("hinge")(AdversarialLoss(d_loss_hinge, g_loss_hinge))
LOSSES.register("lsgan")(AdversarialLoss(d_loss_lsgan, g_loss_lsgan, smoothable=True))
LOSSES.register("wgan-gp")(AdversarialLoss(d_loss_wgan, g_loss_wgan, gradient_penalty=10.0))
