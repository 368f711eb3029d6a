"""Memorisation check: does the generator hand back its training images?

A generated sample counts as a copy when its nearest training image (in feature space) is closer than
the `quantile` smallest of the training images' own nearest-neighbour distances. The threshold thus
calibrates itself to the data: a generator that draws genuinely new samples scores about `quantile`
(fresh real images land that close by chance that often), one that copies scores near 1.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from ganforge.errors import GanforgeError
from ganforge.images import save_grid
from ganforge.metrics.neighbours import kth_neighbour_distance, nearest

COPY_QUANTILE = 0.05


@dataclass
class MemorisationResult:
    copy_fraction: float  # share of generated samples flagged as copies
    threshold: float  # the distance below which a sample is a copy
    quantile: float
    distances: torch.Tensor  # (M,) each generated sample -> its nearest training image
    nearest: torch.Tensor  # (M,) index of that training image

    def closest_pairs(self, count: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
        """(generated indices, training indices) of the `count` closest pairs, closest first."""
        order = self.distances.argsort()[:count]
        return order, self.nearest[order]


def memorisation_check(train: torch.Tensor, fake: torch.Tensor, quantile: float = COPY_QUANTILE) -> MemorisationResult:
    """Compare generated features (M, D) with training features (N, D)."""
    if len(train) < 2 or len(fake) < 1:
        raise GanforgeError(f"the memorisation check needs at least 2 training and 1 generated sample, got "
                            f"{len(train)} and {len(fake)}")
    own = kth_neighbour_distance(train, 1)
    threshold = float(torch.quantile(own, quantile))
    dist, index = nearest(fake, train)
    return MemorisationResult(float((dist < threshold).double().mean()), threshold, quantile, dist, index)


def save_closest_pairs(path: str | os.PathLike, generated: torch.Tensor, training: torch.Tensor) -> None:
    """One picture: generated samples on the top row, each one's nearest training image below it."""
    save_grid(path, torch.cat([generated.float(), training.float()]), nrow=len(generated))
