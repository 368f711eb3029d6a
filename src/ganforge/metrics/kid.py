"""Kernel Inception Distance: an unbiased MMD² with the cubic polynomial kernel (Bińkowski et al. 2018).

Unlike FID it has no bias from the sample size, so it is the fairer score on small data sets. It is
averaged over random subsets; the subset size shrinks to the smaller set when either set is small.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ganforge.errors import GanforgeError
from ganforge.metrics.neighbours import row_chunks


def polynomial_kernel(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """k(x, y) = (x.y / D + 1)^3, in float64; the dot products in float32, whose rounding is far below the
    subset-to-subset spread of KID and which run faster (docs/evaluation.md)."""
    k = (x.float() @ y.float().T).double() / x.shape[1] + 1
    return k * k * k


def mmd2_unbiased(x: torch.Tensor, y: torch.Tensor) -> float:
    """Unbiased MMD² estimate: the diagonal (each point with itself) is left out of the within-set means."""
    m, n = len(x), len(y)
    k_xx, k_yy, k_xy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
    within_x = (k_xx.sum() - k_xx.diagonal().sum()) / (m * (m - 1))
    within_y = (k_yy.sum() - k_yy.diagonal().sum()) / (n * (n - 1))
    return float(within_x + within_y - 2 * k_xy.mean())


def _subset_kernel_sums(a: torch.Tensor, b: torch.Tensor, in_a: torch.Tensor, in_b: torch.Tensor) -> torch.Tensor:
    """For every subset s: the sum of k(a_i, b_j) over i in subset s of a and j in subset s of b.

    `in_a` (S, len(a)) and `in_b` (S, len(b)) are 0/1 membership rows. Each kernel row block is computed
    once and shared by all subsets, instead of three fresh kernel matrices per subset."""
    sums = torch.zeros(len(in_a), dtype=torch.float64)
    for start, chunk in row_chunks(a):
        partial = in_a[:, start : start + len(chunk)] @ polynomial_kernel(chunk, b)  # (S, len(b))
        sums += (partial * in_b).sum(dim=1)
    return sums


@dataclass
class KIDResult:
    mean: float
    std: float  # spread over subsets
    subset_size: int
    subsets: int


def subset_memberships(count: int, size: int, subsets: int, g: torch.Generator) -> torch.Tensor:
    rows = torch.zeros(subsets, count, dtype=torch.float64)
    for s in range(subsets):
        rows[s, torch.randperm(count, generator=g)[:size]] = 1
    return rows


def kid(real: torch.Tensor, fake: torch.Tensor, subsets: int = 100, subset_size: int = 1000,
        seed: int = 0) -> KIDResult:
    """Mean and standard deviation of the unbiased MMD² over `subsets` random subsets of each set."""
    real, fake = torch.as_tensor(real), torch.as_tensor(fake)
    m = min(subset_size, len(real), len(fake))
    if m < 2:
        raise GanforgeError(f"KID needs at least 2 samples in each set, got {len(real)} real and {len(fake)} generated")
    g = torch.Generator().manual_seed(seed)
    in_real = subset_memberships(len(real), m, subsets, g)
    in_fake = subset_memberships(len(fake), m, subsets, g)
    # Kernel entries needed: every pair once (shared by all subsets), or three m x m blocks per subset.
    if len(real) ** 2 + len(fake) ** 2 + len(real) * len(fake) <= 3 * subsets * m * m:
        values = _shared_kernel_estimates(real, fake, in_real, in_fake, m)
    else:
        values = torch.tensor([mmd2_unbiased(real[in_real[s].bool()], fake[in_fake[s].bool()])
                               for s in range(subsets)], dtype=torch.float64)
    return KIDResult(float(values.mean()), float(values.std()) if subsets > 1 else 0.0, m, subsets)


def _shared_kernel_estimates(real: torch.Tensor, fake: torch.Tensor, in_real: torch.Tensor, in_fake: torch.Tensor,
                             m: int) -> torch.Tensor:
    diag_real = ((real.double() ** 2).sum(1) / real.shape[1] + 1) ** 3  # k(x, x)
    diag_fake = ((fake.double() ** 2).sum(1) / fake.shape[1] + 1) ** 3
    within_real = (_subset_kernel_sums(real, real, in_real, in_real) - in_real @ diag_real) / (m * (m - 1))
    within_fake = (_subset_kernel_sums(fake, fake, in_fake, in_fake) - in_fake @ diag_fake) / (m * (m - 1))
    cross = _subset_kernel_sums(real, fake, in_real, in_fake) / (m * m)
    return within_real + within_fake - 2 * cross
