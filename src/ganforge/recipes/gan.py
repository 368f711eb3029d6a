"""The unconditional GAN step: the two stages of adversarial training, made explicit."""

from __future__ import annotations

import torch
from torch import nn

from ganforge.losses import AdversarialLoss
from ganforge.runtime import autocast
from ganforge.train.penalties import DiscriminatorPenalty


class GANStep:
    """Stage 1: D learns real=1 / fake=0. Stage 2: G learns to make D say "real", D frozen."""

    def __init__(self, G: nn.Module, D: nn.Module, opt_G: torch.optim.Optimizer, opt_D: torch.optim.Optimizer,
                 loss: AdversarialLoss, device: torch.device, precision: str = "fp32",
                 d_penalty: DiscriminatorPenalty | None = None) -> None:
        self.G, self.D, self.opt_G, self.opt_D = G, D, opt_G, opt_D
        self.loss, self.device, self.precision = loss, device, precision
        self.d_penalty = d_penalty if d_penalty is not None and d_penalty.active else None  # GP / R1

    def __call__(self, real: torch.Tensor, z: torch.Tensor, train_d: bool = True,
                 train_g: bool = True) -> dict[str, torch.Tensor]:
        G, D = self.G, self.D
        with autocast(self.device, self.precision):
            fake = G(z)  # (B, C, H, W); reused by both stages

        # Stage 1: the discriminator, a binary classifier of real (1) vs fake (0).
        D.requires_grad_(True)
        with autocast(self.device, self.precision):
            real_logits = D(real)
            fake_logits = D(fake.detach())
        d_loss = self.loss.d_loss(real_logits.float(), fake_logits.float())
        penalty = None
        if train_d:
            penalty = self.d_penalty(D, real, fake.detach()) if self.d_penalty is not None else None
            self.opt_D.zero_grad(set_to_none=True)
            (d_loss if penalty is None else d_loss + penalty).backward()
            self.opt_D.step()

        # Stage 2: the whole G -> D chain with target "real"; D's weights frozen, only G learns.
        D.requires_grad_(False)
        with autocast(self.device, self.precision):
            g_logits = D(fake)
        g_loss = self.loss.g_loss(g_logits.float())
        if train_g:
            self.opt_G.zero_grad(set_to_none=True)
            g_loss.backward()
            self.opt_G.step()
        D.requires_grad_(True)

        stats = {
            "loss/D": d_loss.detach(),
            "loss/G": g_loss.detach(),
            "D/real_prob": torch.sigmoid(real_logits.detach().float()).mean(),
            "D/fake_prob": torch.sigmoid(fake_logits.detach().float()).mean(),
            "D/real_sign": real_logits.detach().float().sign().mean(),  # ADA's overfitting signal r_t
        }
        if penalty is not None:
            stats["loss/D_penalty"] = penalty.detach()
        return stats
