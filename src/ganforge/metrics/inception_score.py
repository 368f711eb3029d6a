"""Inception Score: exp(E_x KL(p(y|x) || p(y))), high when each sample is confidently one class and the
classes are varied. Needs an extractor that is a classifier (inception-v3's 1008 classes, digits' 11)."""

from __future__ import annotations

import torch

from ganforge.errors import GanforgeError


def inception_score(logits: torch.Tensor, splits: int = 10) -> tuple[float, float]:
    """Mean and standard deviation over `splits` equal parts, as the original implementation reports it."""
    if len(logits) < splits:
        raise GanforgeError(f"Inception Score with {splits} splits needs at least {splits} samples, got {len(logits)}")
    log_p = torch.log_softmax(logits.double(), dim=1)
    scores = []
    for part in log_p.tensor_split(splits):
        log_marginal = torch.logsumexp(part, dim=0) - torch.log(torch.tensor(float(len(part)), dtype=torch.float64))
        kl = (part.exp() * (part - log_marginal)).sum(dim=1).mean()
        scores.append(kl.exp())
    values = torch.stack(scores)
    return float(values.mean()), float(values.std()) if splits > 1 else 0.0
