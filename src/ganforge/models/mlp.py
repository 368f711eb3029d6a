"""Small MLPs for 2D point data (the ring / grid mode-collapse benchmarks and your own (N, 2) arrays).

G: z -> [Linear + ReLU] * depth -> (x, y). D: (x, y) (or m packed points) -> [Linear + LeakyReLU] * depth -> logit.
"""

from __future__ import annotations

import torch
from torch import nn

from ganforge.models.layers import MinibatchStd
from ganforge.models.registry import register
from ganforge.models.spec import ModelSpec

DEPTH = 3


class MLPGenerator(nn.Module):
    def __init__(self, latent_dim: int = 2, width: int = 128, data_dim: int = 2, depth: int = DEPTH) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        layers: list[nn.Module] = []
        for i in range(depth):
            layers += [nn.Linear(latent_dim if i == 0 else width, width), nn.ReLU()]
        layers.append(nn.Linear(width, data_dim))
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:  # (B, latent_dim) -> (B, data_dim)
        return self.net(z)


class MLPDiscriminator(nn.Module):
    def __init__(self, width: int = 128, data_dim: int = 2, depth: int = DEPTH, minibatch_std: bool = False) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(depth):
            layers += [nn.Linear(data_dim if i == 0 else width, width), nn.LeakyReLU(0.2)]
        self.features = nn.Sequential(*layers)  # (B, width): what the training doctor compares
        self.mbstd = MinibatchStd() if minibatch_std else nn.Identity()
        self.head = nn.Linear(width + int(minibatch_std), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, data_dim) -> (B,) logits
        return self.head(self.mbstd(self.features(x))).flatten()


SPEC = ModelSpec(
    name="mlp", summary="MLP G and D for 2D point data (--data ring, grid or an (N, 2) .npy file)",
    recipe="points", points=True, refuses=("augment=ada", "augment=fixed"), scored_by="by `ganforge bench modes`",
    supports="image augmentation does not apply to 2D points; use --augment off",
    example_args=dict(latent_dim=3, g_width=8, d_width=8),
)


@register(SPEC)
def build_mlp(latent_dim: int = 2, g_width: int = 128, d_width: int = 128, minibatch_std: bool = False,
              pack: int = 1, data_dim: int = 2) -> tuple[nn.Module, nn.Module]:
    G = MLPGenerator(latent_dim, g_width, data_dim)
    D = MLPDiscriminator(d_width, data_dim * pack, minibatch_std=minibatch_std)
    return G, D
