"""Building blocks of the multi-scale architectures (progressive growing, MSG-GAN, FastGAN):
equalised learning rate, pixel norm, minibatch std, per-scale widths and image pyramids."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.aspect import base_grid
from ganforge.models.layers import MinibatchStd


def num_doublings(resolution: int) -> int:
    """How many x2 steps lead from the 4-pixel grid to `resolution` (16 px: 2)."""
    return int(math.log2(resolution // 4))


def scale_widths(resolution: int, base: int, cap_multiplier: int = 16) -> list[int]:
    """Channel widths at 4, 8, ..., resolution px: `base` at full size, doubling towards 4 px, capped."""
    steps = num_doublings(resolution)
    return [base * min(2 ** (steps - i), cap_multiplier) for i in range(steps + 1)]


def grid_sizes(resolution: int, aspect: str = "1:1") -> list[tuple[int, int]]:
    """(height, width) of each scale, smallest first: 1:1 at 16 px -> [(4, 4), (8, 8), (16, 16)]."""
    h0, w0 = base_grid(aspect)
    return [(h0 * 2**k, w0 * 2**k) for k in range(num_doublings(resolution) + 1)]


def image_pyramid(x: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """Full-size images -> the same images at every scale by 2x2 averaging, smallest first."""
    scales = [x]
    for _ in range(levels - 1):
        scales.append(F.avg_pool2d(scales[-1], 2))
    return scales[::-1]


class EqualConv2d(nn.Module):
    """Conv with weights N(0, 1) scaled by He's constant at run time (equalised learning rate, ProGAN):
    every layer then learns at the same speed under Adam, whatever its fan-in."""

    def __init__(self, c_in: int, c_out: int, kernel: int | tuple[int, int], padding: int = 0) -> None:
        super().__init__()
        kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
        self.weight = nn.Parameter(torch.randn(c_out, c_in, kh, kw))
        self.bias = nn.Parameter(torch.zeros(c_out))
        self.scale = math.sqrt(2.0 / (c_in * kh * kw))
        self.padding = padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)


class EqualLinear(nn.Module):
    """Linear layer with the equalised learning rate (see EqualConv2d)."""

    def __init__(self, f_in: int, f_out: int, gain: float = math.sqrt(2.0)) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(f_out, f_in))
        self.bias = nn.Parameter(torch.zeros(f_out))
        self.scale = gain / math.sqrt(f_in)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.scale, self.bias)


class PixelNorm(nn.Module):
    """Each pixel's feature vector scaled to unit mean square (ProGAN's G normalisation, no batch statistics)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + 1e-8)


def conv_act(c_in: int, c_out: int, pixel_norm: bool, upscale: bool = False) -> list[nn.Module]:
    """Equalised 3x3 conv + LeakyReLU(0.2) (+ pixel norm in generators); `upscale`: of the 2x nearest-upscaled input."""
    upsample = [nn.Upsample(scale_factor=2, mode="nearest")] if upscale else []
    layers: list[nn.Module] = [*upsample, EqualConv2d(c_in, c_out, 3, padding=1), nn.LeakyReLU(0.2)]
    return layers + [PixelNorm()] if pixel_norm else layers


class GeneratorStem(nn.Module):
    """z (B, latent) -> (B, width, h0, w0): the first block of ProGAN / MSG-GAN generators."""

    def __init__(self, latent_dim: int, width: int, grid: tuple[int, int]) -> None:
        super().__init__()
        self.width, self.grid = width, grid
        self.norm = PixelNorm()
        self.dense = EqualLinear(latent_dim, width * grid[0] * grid[1], gain=math.sqrt(2.0) / 4)
        self.conv = nn.Sequential(nn.LeakyReLU(0.2), PixelNorm(), *conv_act(width, width, pixel_norm=True))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.dense(self.norm(z.flatten(1)))
        return self.conv(h.view(z.shape[0], self.width, *self.grid))


class DiscriminatorHead(nn.Module):
    """(B, width, h0, w0) -> (B,) logits: minibatch std, 3x3 conv, then dense layers over the small grid."""

    def __init__(self, width: int, grid: tuple[int, int]) -> None:
        super().__init__()
        self.body = nn.Sequential(MinibatchStd(), *conv_act(width + 1, width, pixel_norm=False), nn.Flatten(),
                                  EqualLinear(width * grid[0] * grid[1], width), nn.LeakyReLU(0.2),
                                  EqualLinear(width, 1, gain=1.0))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.body(h).flatten()


class ScaleGenerator(nn.Module):
    """The generator body shared by MSG-GAN and progressive growing: a stem at the 4-pixel grid, one
    [x2 nearest, two 3x3 convs] block per doubling, and a 1x1 `to_rgb` at every scale."""

    def __init__(self, resolution: int, channels: int, latent_dim: int, width: int, aspect: str) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        widths = scale_widths(resolution, width)  # at 4, 8, ..., R px
        self.stem = GeneratorStem(latent_dim, widths[0], grid_sizes(resolution, aspect)[0])
        self.blocks = nn.ModuleList(
            nn.Sequential(*conv_act(c_in, c_out, pixel_norm=True, upscale=True),
                          *conv_act(c_out, c_out, pixel_norm=True))
            for c_in, c_out in zip(widths[:-1], widths[1:]))
        self.to_rgb = nn.ModuleList(EqualConv2d(c, channels, 1) for c in widths)
