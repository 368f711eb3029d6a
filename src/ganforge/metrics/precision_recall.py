"""Precision, recall, density and coverage: fidelity and diversity as two separate numbers.

Each set's manifold is the union of balls around its points, each ball reaching the point's k-th
nearest neighbour (Kynkäänniemi et al. 2019). Precision: share of generated samples inside the real
manifold (fidelity). Recall: share of real samples inside the generated manifold (diversity).
Density and coverage (Naeem et al. 2020) use only the real balls, which makes them robust to outliers:
density counts how many real balls hold each generated sample (about 1 when the distributions match),
coverage is the share of real balls that hold at least one generated sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ganforge.errors import GanforgeError
from ganforge.metrics.neighbours import distances, kth_neighbour_distance, row_chunks


@dataclass
class PRDC:
    precision: float
    recall: float
    density: float
    coverage: float
    k: int


def prdc(real: torch.Tensor, fake: torch.Tensor, k: int = 5) -> PRDC:
    """All four estimates for (N, D) real and (M, D) generated features."""
    if min(len(real), len(fake)) <= k:
        raise GanforgeError(f"precision/recall with k={k} needs more than {k} samples in each set, "
                            f"got {len(real)} real and {len(fake)} generated")
    real_radii = kth_neighbour_distance(real, k)  # (N,)
    fake_radii = kth_neighbour_distance(fake, k)  # (M,)
    balls_holding_fake = torch.empty(len(fake), dtype=torch.long)  # real balls around each generated sample
    for start, chunk in row_chunks(fake):
        inside = distances(chunk, real) <= real_radii[None, :]
        balls_holding_fake[start : start + len(chunk)] = inside.sum(dim=1)
    real_in_fake = torch.empty(len(real), dtype=torch.bool)
    covered = torch.empty(len(real), dtype=torch.bool)
    for start, chunk in row_chunks(real):
        d = distances(chunk, fake)  # (chunk, M)
        real_in_fake[start : start + len(chunk)] = (d <= fake_radii[None, :]).any(dim=1)
        covered[start : start + len(chunk)] = d.min(dim=1).values <= real_radii[start : start + len(chunk)]
    return PRDC(
        precision=float((balls_holding_fake > 0).double().mean()),
        recall=float(real_in_fake.double().mean()),
        density=float(balls_holding_fake.double().sum() / (k * len(fake))),
        coverage=float(covered.double().mean()),
        k=k,
    )
