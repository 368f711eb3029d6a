"""DCGAN (Radford et al. 2016) for any power-of-two resolution from 16 to 256 and 1 or 3 channels.

G: latent z -> (width_at_4px, 4, 4) -> [upsample x2 + BN + ReLU] * log2(R/4) -> tanh image.
D: image -> [4x4 stride-2 conv (halves the map) + (BN) + LeakyReLU(0.2)] down to 4x4 -> a 4x4 conv -> one logit.
Non-square (aspect.py): the 4x4 grid becomes e.g. 4x8 for 2:1, and the first / last kernels follow it.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ganforge.aspect import base_grid
from ganforge.models.layers import MinibatchStd


def _widths(resolution: int, base: int, cap_multiplier: int = 8) -> list[int]:
    """Channel widths at 4, 8, ..., resolution/2 px: base*2^k doubling towards low resolution, capped."""
    steps = int(math.log2(resolution // 4))
    return [base * min(2 ** (steps - 1 - i), cap_multiplier) for i in range(steps)]


def dcgan_init(module: nn.Module) -> None:
    """DCGAN init: conv weights N(0, 0.02); batch-norm scale N(1, 0.02), shift 0."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


UPSAMPLE_MODES = ("transpose", "nearest", "subpixel")


def _upsample_block(c_in: int, c_out: int, mode: str) -> list[nn.Module]:
    """Layers that double the resolution of a (B, c_in, H, W) map."""
    if mode == "transpose":
        return [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False)]
    if mode == "subpixel":  # Shi et al. 2016: a conv at the low resolution makes the 4 pixels of each 2x2 block
        return [SubpixelConv(c_in, c_out), nn.PixelShuffle(2)]
    # nearest-neighbour upscaling + conv: the usual cure for checkerboard artefacts
    return [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c_in, c_out, 3, 1, 1, bias=False)]


class SubpixelConv(nn.Conv2d):
    """3x3 conv to 4x the channels at the input's resolution, for nn.PixelShuffle(2).

    Why: the same FLOPs as nearest upscaling + conv, but no upscaled copy of the input, and a last
    layer with 4 output channels instead of 1 (speed: docs/speed.md).
    Initialised ICNR-style (Aitken et al. 2017): the 4 phases of each output channel start equal, so the
    block starts as nearest-neighbour upscaling of one conv and has no checkerboard at the start."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__(c_in, 4 * c_out, 3, 1, 1, bias=False)

    def reset_phases(self) -> None:
        with torch.no_grad():
            self.weight.copy_(self.weight[::4].repeat_interleave(4, dim=0))


class DCGANGenerator(nn.Module):
    def __init__(
        self, resolution: int = 64, channels: int = 3, latent_dim: int = 100, width: int = 64,
        upsample: str = "transpose", aspect: str = "1:1", latent_classes: int = 0,
    ) -> None:
        super().__init__()
        if upsample not in UPSAMPLE_MODES:
            raise ValueError(f"upsample must be one of {UPSAMPLE_MODES}, got {upsample!r}")
        self.latent_dim = latent_dim
        self.latent_classes = latent_classes
        widths = _widths(resolution, width)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(latent_dim, widths[0], base_grid(aspect), 1, 0, bias=False),  # -> (B, w0, 4, 4)
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(True),
        ]
        for c_in, c_out in zip(widths[:-1], widths[1:]):
            layers += [*_upsample_block(c_in, c_out, upsample), nn.BatchNorm2d(c_out), nn.ReLU(True)]
        layers += [*_upsample_block(widths[-1], channels, upsample), nn.Tanh()]  # -> (B, C, R, R)
        self.net = nn.Sequential(*layers)
        self.apply(dcgan_init)
        for module in self.modules():
            if isinstance(module, SubpixelConv):
                module.reset_phases()

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(latent_code_input(z, self.latent_classes).view(z.shape[0], self.latent_dim, 1, 1))


def latent_category(z: torch.Tensor, classes: int) -> torch.Tensor:
    """InfoGAN's categorical code, read from a plain Gaussian latent: the argmax of its first `classes`
    dims (uniform over the categories), so every sampler, interpolation and export keeps drawing N(0, I)."""
    return z[:, :classes].argmax(1)


def with_category(z: torch.Tensor, categories: torch.Tensor, classes: int) -> torch.Tensor:
    """z whose latent category (the argmax of its first `classes` dims) is `categories`; the rest unchanged."""
    z = z.clone()
    z[torch.arange(len(z)), categories] = z[:, :classes].abs().amax(1) + 1
    return z


def latent_code_input(z: torch.Tensor, classes: int) -> torch.Tensor:
    """z with its first `classes` dims replaced by the one-hot category (unchanged when classes is 0)."""
    if not classes:
        return z
    head = z[:, :classes]
    one_hot = (head == head.amax(1, keepdim=True)).to(z.dtype)  # comparison, not F.one_hot: exports to ONNX
    return torch.cat([one_hot, z[:, classes:]], 1)


class DCGANDiscriminator(nn.Module):
    def __init__(self, resolution: int = 64, channels: int = 3, width: int = 64, batchnorm: bool = True,
                 minibatch_std: bool = False, aspect: str = "1:1", latent_classes: int = 0) -> None:
        super().__init__()
        widths = _widths(resolution, width)[::-1]  # resolution/2 px first
        layers: list[nn.Module] = [nn.Conv2d(channels, widths[0], 4, 2, 1), nn.LeakyReLU(0.2, True)]
        for c_in, c_out in zip(widths[:-1], widths[1:]):
            layers.append(nn.Conv2d(c_in, c_out, 4, 2, 1, bias=not batchnorm))
            if batchnorm:
                layers.append(nn.BatchNorm2d(c_out))
            layers.append(nn.LeakyReLU(0.2, True))
        self.features = nn.Sequential(*layers)  # -> (B, w, 4, 4)
        self.feature_dim = widths[-1] * math.prod(base_grid(aspect))  # flattened, for projection conditioning
        self.mbstd = MinibatchStd() if minibatch_std else nn.Identity()  # -> (B, w + 1, 4, 4) when on
        self.head = nn.Conv2d(widths[-1] + int(minibatch_std), 1, base_grid(aspect), 1, 0)  # -> (B, 1, 1, 1)
        # InfoGAN's Q: which latent category made this image (shares D's features; only with latent_classes)
        self.code_head = nn.Conv2d(widths[-1], latent_classes, base_grid(aspect), 1, 0) if latent_classes else None
        self.apply(dcgan_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.mbstd(self.features(x))).flatten()  # (B,) logits

    def forward_with_codes(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(real/fake logits (B,), category logits (B, latent_classes)) from one pass through the features."""
        h = self.features(x)
        return self.head(self.mbstd(h)).flatten(), self.code_head(h).flatten(1)
