"""Exponential moving average of G's weights: smoother samples than the raw, oscillating G."""

from __future__ import annotations

import copy

import torch
from torch import nn


def make_ema(G: nn.Module) -> nn.Module:
    ema = copy.deepcopy(G).eval()
    ema.requires_grad_(False)
    return ema


EMA_WARMUP = 4  # beta = (1 + step) / (EMA_WARMUP + step) until it reaches the set beta


def ema_beta_at(step: int, beta: float, warmup: float = EMA_WARMUP) -> float:
    """Warm-up: early on, average over about the last third of the steps so far, so the random init fades out.

    Without it, beta=0.999 still gives the initial weights 37% of the average after 1,000 steps. The longer
    average (rather than about the last ninth) read better on digits runs paired by seed (docs/results.md)."""
    return min(beta, (1 + step) / (warmup + step))


class WeightAverage:
    """ema <- beta * ema + (1 - beta) * G, with both networks' parameter lists gathered once: walking the
    module trees every step is a visible share of a small (2D) model's step (docs/speed.md)."""

    def __init__(self, ema: nn.Module, G: nn.Module) -> None:
        self.ema_params = list(ema.parameters())
        self.params = [p.detach() for p in G.parameters()]
        self.buffers = list(zip(ema.buffers(), G.buffers()))

    @torch.no_grad()
    def __call__(self, beta: float) -> None:
        """Parameters move towards G's; buffers (BN statistics) are copied."""
        torch._foreach_lerp_(self.ema_params, self.params, 1.0 - beta)
        for b_ema, b in self.buffers:
            b_ema.copy_(b)


def update_ema(ema: nn.Module, G: nn.Module, beta: float) -> None:
    """One EMA step (a training loop keeps a WeightAverage instead)."""
    WeightAverage(ema, G)(beta)
