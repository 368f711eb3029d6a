"""One batch's gradients of D and G, for measuring how much a faster or lower-precision form of the same layers
changes them (benchmarks/winograd_quality.py compares bf16 with and without Winograd against fp32)."""

from __future__ import annotations

import torch
from torch import nn

from ganforge.losses.adversarial import d_loss_bce, g_loss_nonsat


def gradients(G: nn.Module, D: nn.Module, real: torch.Tensor, z: torch.Tensor, bf16: bool,
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """D's and G's gradients (non-saturating loss) flattened, for one batch, in bf16 autocast or fp32.

    The networks' state (spectral norm's power-iteration vectors, batch-norm statistics) is restored afterwards, so
    every call sees the same weights: the differences are rounding only."""
    saved = [{k: v.clone() for k, v in net.state_dict().items()} for net in (G, D)]
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        fake = G(z)
        d_loss = d_loss_bce(D(real), D(fake.detach()))
        g_loss = g_loss_nonsat(D(fake))
    d_params, g_params = list(D.parameters()), list(G.parameters())
    d_grads = torch.autograd.grad(d_loss, d_params)
    g_grads = torch.autograd.grad(g_loss, g_params)
    for net, state in zip((G, D), saved, strict=True):
        net.load_state_dict(state)
    return torch.cat([g.float().flatten() for g in d_grads]), torch.cat([g.float().flatten() for g in g_grads])
