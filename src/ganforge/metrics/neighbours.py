"""Nearest-neighbour distances in feature space, in row chunks so 10,000 x 10,000 never sits in memory."""

from __future__ import annotations

from collections.abc import Iterator

import torch

CHUNK = 1024


def row_chunks(x: torch.Tensor, size: int = CHUNK) -> Iterator[tuple[int, torch.Tensor]]:
    for start in range(0, len(x), size):
        yield start, x[start : start + size]


def distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Euclidean distances (len(a), len(b)) in float64."""
    return torch.cdist(a.double(), b.double())


def kth_neighbour_distance(x: torch.Tensor, k: int) -> torch.Tensor:
    """For each row, the distance to its k-th nearest other row (itself excluded)."""
    if not 1 <= k < len(x):
        raise ValueError(f"k={k} needs more than k points, got {len(x)}")
    out = torch.empty(len(x), dtype=torch.float64)
    for start, chunk in row_chunks(x):
        d = distances(chunk, x)
        d[torch.arange(len(chunk)), torch.arange(start, start + len(chunk))] = float("inf")  # not itself
        out[start : start + len(chunk)] = d.kthvalue(k, dim=1).values
    return out


def nearest(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """For each row of a, the distance to and index of its nearest row of b."""
    dist, index = torch.empty(len(a), dtype=torch.float64), torch.empty(len(a), dtype=torch.long)
    for start, chunk in row_chunks(a):
        d_min, i_min = distances(chunk, b).min(dim=1)
        dist[start : start + len(chunk)], index[start : start + len(chunk)] = d_min, i_min
    return dist, index
