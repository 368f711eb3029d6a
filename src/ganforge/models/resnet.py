"""SNGAN / BigGAN-style residual networks (Miyato et al. 2018, Brock et al. 2019) for `--g-arch resnet` and
`--d-arch resnet`.

G: z -> linear -> (w0, 4, 4) -> [up block] * log2(R/4) -> BN + ReLU + 3x3 conv + tanh.
   Up block: BN, ReLU, nearest x2, 3x3 conv, BN, ReLU, 3x3 conv; shortcut: 1x1 conv, nearest x2.
D: image -> [down block] * log2(R/4) -> ReLU -> sum over the map -> (B, w) features (the head is backbones.py's).
   Down block: (BN,) ReLU, 3x3 conv, (BN,) ReLU, 3x3 conv, 2x2 average pool; shortcut: 1x1 conv, average pool.
   The first block sees the image itself: no activation or batch norm (--d-batchnorm), and its shortcut pools first.
Non-square images (--aspect): the 4x4 grid is aspect.base_grid's, as in DCGAN.
"""

from __future__ import annotations

import torch
from torch import nn

from ganforge.aspect import base_grid
from ganforge.models.dcgan import _widths, latent_code_input


class UpBlock(nn.Module):
    """(B, c_in, H, W) -> (B, c_out, 2H, 2W): a residual branch beside an upscaled 1x1 projection."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.residual = nn.Sequential(
            nn.BatchNorm2d(c_in), nn.ReLU(True), nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(c_in, c_out, 3, 1, 1), nn.BatchNorm2d(c_out), nn.ReLU(True), nn.Conv2d(c_out, c_out, 3, 1, 1))
        # the 1x1 conv before the upscaling: the same result as after it, on a map 4x smaller
        self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1), nn.Upsample(scale_factor=2, mode="nearest"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.residual(x) + self.shortcut(x)


class ResNetGenerator(nn.Module):
    def __init__(self, resolution: int = 64, channels: int = 3, latent_dim: int = 100, width: int = 64,
                 aspect: str = "1:1", latent_classes: int = 0) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.latent_classes = latent_classes
        widths = _widths(resolution, width)  # at 4, 8, ..., R/2 px
        self.grid = base_grid(aspect)
        self.stem = nn.Linear(latent_dim, widths[0] * self.grid[0] * self.grid[1])  # -> (B, w0, 4, 4)
        outs = [*widths[1:], widths[-1]]  # the last block doubles to R px at the narrowest width
        self.blocks = nn.Sequential(*(UpBlock(c_in, c_out) for c_in, c_out in zip(widths, outs)))
        self.to_image = nn.Sequential(nn.BatchNorm2d(outs[-1]), nn.ReLU(True), nn.Conv2d(outs[-1], channels, 3, 1, 1),
                                      nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.stem(latent_code_input(z, self.latent_classes)).view(z.shape[0], -1, *self.grid)
        return self.to_image(self.blocks(h))


class DownBlock(nn.Module):
    """(B, c_in, H, W) -> (B, c_out, H/2, W/2): a residual branch beside an average-pooled 1x1 projection."""

    def __init__(self, c_in: int, c_out: int, first: bool = False, batchnorm: bool = False) -> None:
        super().__init__()
        norm = batchnorm and not first  # as in DCGAN's D: no batch norm in the layers that read the image
        layers: list[nn.Module] = []
        if not first:  # pre-activation; not on the image itself
            layers += [nn.BatchNorm2d(c_in)] if norm else []
            layers.append(nn.ReLU())  # not in place: the shortcut reads the same input
        layers.append(nn.Conv2d(c_in, c_out, 3, 1, 1, bias=not norm))
        layers += [nn.BatchNorm2d(c_out)] if norm else []
        layers += [nn.ReLU(True), nn.Conv2d(c_out, c_out, 3, 1, 1), nn.AvgPool2d(2)]
        self.residual = nn.Sequential(*layers)
        pool, project = nn.AvgPool2d(2), nn.Conv2d(c_in, c_out, 1)
        # SNGAN's first block pools the image before projecting it (fewer pixels through the conv); the others
        # project first, as their residual branch does
        self.shortcut = nn.Sequential(pool, project) if first else nn.Sequential(project, pool)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.residual(x) + self.shortcut(x)


class SumPool(nn.Module):
    """(B, C, H, W) -> (B, C): the sum over the map (SNGAN's D), so the logit scales with what D found, not where."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.sum((2, 3))


def resnet_features(resolution: int, channels: int, width: int, batchnorm: bool) -> tuple[nn.Sequential, int]:
    """D's residual body and the size of its feature vector."""
    widths = _widths(resolution, width)[::-1]  # at R/2, R/4, ..., 4 px
    c_ins = [channels, *widths[:-1]]
    blocks = [DownBlock(c_in, c_out, first=i == 0, batchnorm=batchnorm)
              for i, (c_in, c_out) in enumerate(zip(c_ins, widths))]
    return nn.Sequential(*blocks, nn.ReLU(), SumPool()), widths[-1]
