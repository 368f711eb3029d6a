"""Fréchet Inception Distance: the distance between two Gaussians fitted to feature sets.

FID = |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^1/2). The last trace is computed as the sum of
square roots of the eigenvalues of S1^1/2 S2 S1^1/2, which is symmetric positive semi-definite: the
same number as scipy's `sqrtm(S1 @ S2)` trace, without its complex round-off or its slowness.
"""

from __future__ import annotations

import numpy as np
import torch

from ganforge.errors import GanforgeError


def feature_statistics(features: torch.Tensor | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and unbiased covariance (D, D) in float64, as every FID implementation fits them."""
    x = np.asarray(torch.as_tensor(features).double().cpu())
    if x.ndim != 2 or len(x) < 2:
        raise GanforgeError(f"FID needs at least 2 feature vectors, got shape {x.shape}")
    return x.mean(axis=0), np.cov(x, rowvar=False)


def psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    """The symmetric square root of a covariance matrix (negative round-off eigenvalues clipped to 0)."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray,
                     root1: np.ndarray | None = None) -> float:
    """FID between two Gaussians. `root1` = psd_sqrt(sigma1), when the caller reuses it (fixed real data)."""
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape:
        raise GanforgeError(f"FID: feature sizes differ ({mu1.shape[0]} vs {mu2.shape[0]}); same extractor?")
    root1 = psd_sqrt(sigma1) if root1 is None else root1
    middle = root1 @ sigma2 @ root1
    eigenvalues = np.linalg.eigvalsh((middle + middle.T) / 2)
    trace_covmean = np.sqrt(np.clip(eigenvalues, 0, None)).sum()
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_covmean)


def fid(real: torch.Tensor | np.ndarray, fake: torch.Tensor | np.ndarray) -> float:
    """FID between two (N, D) feature sets."""
    return frechet_distance(*feature_statistics(real), *feature_statistics(fake))
