"""The extra terms D's loss gets: the WGAN-GP gradient penalty, and the R1 penalty applied lazily."""

from __future__ import annotations

import torch
from torch import nn

from ganforge.losses.adversarial import gradient_penalty, r1_penalty


def optimizer_steps(opt: torch.optim.Optimizer) -> int:
    """How many updates `opt` has made (Adam counts them per parameter; 0 before the first)."""
    for state in opt.state.values():
        if "step" in state:
            return int(state["step"])
    return 0


class DiscriminatorPenalty:
    """Called once per D update with D, that update's real and (detached) fake batches, D's extra inputs
    (a conditional D's labels) and the number of D updates so far.

    R1 is "lazy" (StyleGAN2): computed every `r1_every`-th update and scaled by `r1_every`, which
    costs 1/k of the double backward pass for the same average pull. Counting updates with D's
    optimizer keeps this object stateless, so resume and rollback need nothing extra."""

    def __init__(self, gp_weight: float = 0.0, r1_gamma: float = 0.0, r1_every: int = 16) -> None:
        self.gp_weight, self.r1_gamma, self.r1_every = gp_weight, r1_gamma, r1_every

    @property
    def active(self) -> bool:
        return self.gp_weight > 0 or self.r1_gamma > 0

    def __call__(self, D: nn.Module, real: torch.Tensor, fake: torch.Tensor, cond: tuple = (),
                 update: int = 0) -> torch.Tensor | None:
        total = None
        if self.gp_weight > 0:
            alpha = torch.rand(real.shape[0], *([1] * (real.ndim - 1)), device=real.device)
            mixed = (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)
            total = self.gp_weight * gradient_penalty(D(mixed, *cond).float(), mixed)
        if self.r1_gamma > 0 and update % self.r1_every == 0:
            real = real.detach().requires_grad_(True)
            r1 = (self.r1_gamma / 2) * self.r1_every * r1_penalty(D(real, *cond).float(), real)
            total = r1 if total is None else total + r1
        return total
