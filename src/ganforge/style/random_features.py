"""Fixed random convolutional features: style transfer that works with no download.

Ustyuzhaninov et al. ("Texture synthesis using shallow convolutional networks with random filters",
2016) showed that Gram matrices of one layer of *random* filters, at several filter sizes, already
capture texture well. We keep their idea and make it cheap at high resolution: instead of filters up
to 55x55 we apply small random filters to each level of an image pyramid, so level k sees structures
about 2^k times larger. Weights come from a fixed seed: the same features on every machine.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.errors import GanforgeError

LEVELS = 5
LAYER_NAMES = [f"scale{k}" for k in range(1, LEVELS + 1)]


class RandomFeatures(nn.Module):
    """ReLU(random k x k conv) on an image pyramid; layer `scaleK` works at 1/2^(K-1) of the input size."""

    def __init__(self, last_layer: str = LAYER_NAMES[-1], channels: int = 128, kernel_size: int = 5,
                 seed: int = 0) -> None:
        super().__init__()
        if last_layer not in LAYER_NAMES:
            raise GanforgeError(f"unknown random-feature layer {last_layer!r}; layers are {', '.join(LAYER_NAMES)}")
        generator = torch.Generator().manual_seed(seed)
        self.layers = nn.ModuleDict()
        for name in LAYER_NAMES[: LAYER_NAMES.index(last_layer) + 1]:
            conv = nn.Conv2d(3, channels, kernel_size, padding=kernel_size // 2, padding_mode="replicate", bias=False)
            w = torch.randn(conv.weight.shape, generator=generator)
            w = w - w.mean(dim=(1, 2, 3), keepdim=True)  # zero mean: respond to structure, not brightness
            conv.weight.data.copy_(w / w.flatten(1).norm(dim=1).view(-1, 1, 1, 1))
            self.layers[name] = conv

    @property
    def names(self) -> list[str]:
        return list(self.layers)

    def forward(self, x: torch.Tensor, wanted: Sequence[str]) -> dict[str, torch.Tensor]:
        """Outputs of the `wanted` levels for images in [-1, 1], (N, 3, H, W)."""
        out = {}
        last = max(self.names.index(name) for name in wanted)
        for index, (name, conv) in enumerate(list(self.layers.items())[: last + 1]):
            if index:
                x = F.avg_pool2d(x, 2, ceil_mode=True)
            if name in wanted:
                out[name] = F.relu(conv(x))
        return out
