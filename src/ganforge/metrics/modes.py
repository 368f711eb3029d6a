"""Mode coverage on the synthetic mode-collapse benchmarks, with the published protocol.

2D mixtures (Srivastava et al. 2017, PacGAN Table 1): a sample is high quality when it lies within
3 standard deviations of its nearest mode; a mode is captured when it is the nearest mode of at
least one high-quality sample. Stacked digits (Metz et al. 2017): each channel is read by a digit
classifier; the triple of digits is the sample's mode (1,000 in all); report how many modes occur
and the KL divergence of their distribution from uniform.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ganforge.metrics.digit_classifier import NOT_A_DIGIT


@dataclass
class PointScore:
    modes_captured: int
    modes_total: int
    high_quality: float  # fraction of samples within 3 std of their nearest mode
    hq_per_mode: list[int]


def score_points(samples: torch.Tensor, modes: torch.Tensor, std: float) -> PointScore:
    """samples (N, 2), mode centres (K, 2), each mode's std."""
    distances = torch.cdist(samples.double(), modes.double())  # (N, K)
    nearest_distance, nearest = distances.min(1)
    high_quality = nearest_distance <= 3 * std
    per_mode = torch.bincount(nearest[high_quality], minlength=len(modes))
    return PointScore(int((per_mode > 0).sum()), len(modes), float(high_quality.double().mean()), per_mode.tolist())


@dataclass
class StackedScore:
    modes_captured: int  # distinct digit triples read at least once (of 1,000)
    kl_to_uniform: float  # KL(p_modes || uniform over 1,000)
    read_fraction: float  # samples whose three channels all read as digits (the rest count for no mode)


def kl_to_uniform(counts: torch.Tensor) -> float:
    """KL(p || uniform) for a histogram of counts: sum p log(p K) over the non-empty bins."""
    p = counts.double() / counts.sum()
    nonzero = p[p > 0]
    return float((nonzero * torch.log(nonzero * len(counts))).sum())


@torch.no_grad()
def read_stacked_modes(classifier: nn.Module, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """(N, 3, H, W) images in [-1, 1] -> (N,) modes 0..999 (100 * red + 10 * green + blue), -1 if unreadable."""
    modes = []
    for chunk in images.split(batch_size):
        digits = torch.stack([classifier(chunk[:, c : c + 1].float()).argmax(1) for c in range(3)], 1)  # (B, 3)
        mode = digits[:, 0] * 100 + digits[:, 1] * 10 + digits[:, 2]
        modes.append(torch.where((digits == NOT_A_DIGIT).any(1), torch.full_like(mode, -1), mode))
    return torch.cat(modes)


def score_stacked_modes(modes: torch.Tensor) -> StackedScore:
    read = modes[modes >= 0]
    counts = torch.bincount(read, minlength=1000)
    kl = kl_to_uniform(counts) if len(read) else math.inf
    return StackedScore(int((counts > 0).sum()), kl, len(read) / max(1, len(modes)))
