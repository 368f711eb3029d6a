"""The three terms of Gatys et al.'s objective, as pure functions of tensors.

Content and style terms are *relative* errors (divided by the size of their target), so a weight
means the same thing for every layer and every feature network: 1.0 is "as large as the target".
"""

from __future__ import annotations

import torch


def gram(features: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) features -> (N, C, C) fp32 Gram matrices F F^T / (C H W).

    The product runs in the features' own precision: under bf16 autocast that is much faster on a CPU than
    fp32 (docs/style-transfer.md), and its rounding (relative 2^-9 per entry) is far below the style errors
    that matter.
    """
    n, c, h, w = features.shape
    if features.is_contiguous(memory_format=torch.channels_last):
        rows = features.permute(0, 2, 3, 1).reshape(n, h * w, c)  # a view: (N, HW, C)
        grams = [r.t() @ r for r in rows]
    else:
        rows = features.reshape(n, c, h * w)
        grams = [r @ r.t() for r in rows]
    return torch.stack(grams).float() / (c * h * w)


def content_loss(features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared feature difference relative to the target's mean square; 0 when they match."""
    target = target.float()
    return (features.float() - target).square().mean() / target.square().mean().clamp_min(1e-12)


def style_loss(features: torch.Tensor, target_gram: torch.Tensor) -> torch.Tensor:
    """Squared Gram difference relative to the target Gram's squared size; 0 when the Grams match."""
    return (gram(features) - target_gram).square().sum() / target_gram.square().sum().clamp_min(1e-12)


def tv_loss(image: torch.Tensor) -> torch.Tensor:
    """Mean squared difference between neighbouring pixels (total variation, squared form)."""
    image = image.float()
    dy = image[..., 1:, :] - image[..., :-1, :]
    dx = image[..., :, 1:] - image[..., :, :-1]
    return dy.square().mean() + dx.square().mean()
