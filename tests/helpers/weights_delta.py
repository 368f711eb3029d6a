"""How differently two short training runs from the same start moved their weights."""

from __future__ import annotations

import torch


def relative_change(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], start: dict[str, torch.Tensor]) -> float:
    """|(a - start) - (b - start)| / |b - start| over all floating tensors of three state dicts."""
    num = den = 0.0
    for key, s in start.items():
        if s.is_floating_point():
            num += float((a[key] - b[key]).double().pow(2).sum())
            den += float((b[key] - s).double().pow(2).sum())
    return (num / den) ** 0.5
