"""Exponential moving average of G's weights: smoother samples than the raw, oscillating G."""

from __future__ import annotations

import copy

import torch
from torch import nn


def make_ema(G: nn.Module) -> nn.Module:
    ema = copy.deepcopy(G).eval()
    ema.requires_grad_(False)
    return ema


def ema_beta_at(step: int, beta: float) -> float:
    """Warm-up: early on average over about `step` steps, so the random init fades out quickly.

    Without it, beta=0.999 still gives the initial weights 37% of the average after 1,000 steps."""
    return min(beta, (1 + step) / (10 + step))


@torch.no_grad()
def update_ema(ema: nn.Module, G: nn.Module, beta: float) -> None:
    """ema <- beta * ema + (1 - beta) * G for parameters; buffers (BN statistics) are copied."""
    ema_params = list(ema.parameters())
    torch._foreach_lerp_(ema_params, [p.detach() for p in G.parameters()], 1.0 - beta)
    for b_ema, b in zip(ema.buffers(), G.buffers()):
        b_ema.copy_(b)
