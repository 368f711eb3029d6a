"""The pix2pix U-Net generator (Isola et al. 2017): an encoder-decoder with skip connections.

Encoder: stride-2 4x4 convs halve the size down to 1x1 (so the depth follows the resolution:
log2(R) levels). Decoder: stride-2 transposed convs double it back; each decoder level sees the
encoder's output at the same size, concatenated, so fine detail (edges, positions) skips the
bottleneck. Dropout in the decoder levels next to the bottleneck is the generator's only noise.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ganforge.models.dcgan import dcgan_init

DROPOUT_LEVELS = 3  # decoder levels just below the innermost one that use dropout (as in pix2pix)
NORMS = ("batch", "instance")


def norm_layer(kind: str, channels: int) -> nn.Module:
    """Batch norm (pix2pix) or instance norm without learned scale (CycleGAN: statistics per image)."""
    if kind == "instance":
        return nn.InstanceNorm2d(channels)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    raise ValueError(f"norm must be one of {', '.join(NORMS)}, got {kind!r}")


def unet_widths(depth: int, width: int, cap_multiplier: int = 8) -> list[int]:
    """Encoder output widths at R/2, R/4, ..., 1 px: width * 2^level, capped at width * cap_multiplier."""
    return [width * min(2**level, cap_multiplier) for level in range(depth)]


class UNetGenerator(nn.Module):
    """(B, in_channels, H, W) -> (B, out_channels, H, W) in [-1, 1]; H and W multiples of `stride`."""

    def __init__(self, in_channels: int = 3, out_channels: int = 3, resolution: int = 256, width: int = 64,
                 dropout: float = 0.5, norm: str = "batch") -> None:
        super().__init__()
        if resolution < 4 or resolution & (resolution - 1):
            raise ValueError(f"resolution must be a power of two >= 4, got {resolution}")
        self.depth = int(math.log2(resolution))
        self.stride = 2**self.depth  # inputs must be a multiple of this; translate pads to it
        widths = unet_widths(self.depth, width)
        innermost = self.depth - 1

        self.down = nn.ModuleList()
        c_in = in_channels
        for level, c_out in enumerate(widths):
            layers: list[nn.Module] = [] if level == 0 else [nn.LeakyReLU(0.2)]
            has_norm = 0 < level < innermost  # none on the raw input, none on the 1x1 bottleneck
            layers.append(nn.Conv2d(c_in, c_out, 4, 2, 1, bias=not has_norm))
            if has_norm:
                layers.append(norm_layer(norm, c_out))
            self.down.append(nn.Sequential(*layers))
            c_in = c_out

        self.up = nn.ModuleList()  # innermost level first
        for level in reversed(range(self.depth)):
            c_in = widths[level] * (1 if level == innermost else 2)  # x2: the skip is concatenated
            if level == 0:
                self.up.append(nn.Sequential(nn.ReLU(), nn.ConvTranspose2d(c_in, out_channels, 4, 2, 1), nn.Tanh()))
                continue
            layers = [nn.ReLU(), nn.ConvTranspose2d(c_in, widths[level - 1], 4, 2, 1, bias=False),
                      norm_layer(norm, widths[level - 1])]
            if dropout > 0 and innermost - DROPOUT_LEVELS <= level < innermost:
                layers.append(nn.Dropout(dropout))
            self.up.append(nn.Sequential(*layers))
        self.apply(dcgan_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for block in self.down:
            x = block(x)  # (B, widths[level], H / 2^(level+1), W / 2^(level+1))
            skips.append(x)
        x = skips.pop()  # the bottleneck
        for i, block in enumerate(self.up):
            if i > 0:
                x = torch.cat([x, skips.pop()], dim=1)  # the skip connection
            x = block(x)
        return x
