"""The discriminator backbones `--d-arch` picks and the generators `--g-arch` picks, for the DCGAN family.

D is an image classifier with one output; which classifier varies by paper:
- dcgan: 4x4 stride-2 convs down to 4x4 and a 4x4 conv head (models/dcgan.py; the default)
- pool: per level a 3x3 conv + LeakyReLU + 2x2 average pooling, then a dense layer (the textbook classifier)
- vgg: per level two 3x3 convs + LeakyReLU, then 2x2 average pooling; then two dense layers (Simonyan & Zisserman)
- resnet: SNGAN's residual down blocks, then a sum over the map (models/resnet.py)
- inception: per level an Inception block (1x1, 3x3, two 3x3 for 5x5, pool + 1x1, concatenated) and a
  3x3 stride-2 reduction, after a 3x3 stem conv; then a dense layer (Szegedy et al. 2015/16)
Every level halves the map, from R px to the 4-pixel grid, at --d-width's widths (the same as DCGAN's D).
Every backbone has DCGAN's interface: `features` (image -> the vector the head reads: what projection
conditioning and the training doctor use), `mbstd` (--minibatch-std, one more input to the head), `head`
(one logit), `code_head` (InfoGAN's category logits) and `feature_dim`. Average, not max, pooling: max pooling
gives G sparse gradients (one pixel per window).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ganforge.aspect import base_grid
from ganforge.models.dcgan import DCGANDiscriminator, DCGANGenerator, _widths
from ganforge.models.layers import MinibatchStd
from ganforge.models.registry import register
from ganforge.models.resnet import ResNetGenerator, resnet_features
from ganforge.models.spec import ModelSpec

D_ARCHS = ("dcgan", "pool", "resnet", "vgg", "inception")
G_ARCHS = ("dcgan", "resnet")


def _conv(c_in: int, c_out: int, batchnorm: bool, stride: int = 1) -> list[nn.Module]:
    """3x3 conv (+ batch norm) + LeakyReLU(0.2)."""
    return [nn.Conv2d(c_in, c_out, 3, stride, 1, bias=not batchnorm), *([nn.BatchNorm2d(c_out)] if batchnorm else []),
            nn.LeakyReLU(0.2, True)]


def _dense(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Linear(c_in, c_out), nn.LeakyReLU(0.2, True)]


def pool_features(widths: list[int], channels: int, batchnorm: bool, grid: int) -> tuple[nn.Sequential, int]:
    layers: list[nn.Module] = []
    for i, (c_in, c_out) in enumerate(zip([channels, *widths[:-1]], widths)):
        layers += [*_conv(c_in, c_out, batchnorm and i > 0), nn.AvgPool2d(2)]  # no batch norm on the image layer
    dense = widths[-1]
    return nn.Sequential(*layers, nn.Flatten(), *_dense(widths[-1] * grid, dense)), dense


def vgg_features(widths: list[int], channels: int, batchnorm: bool, grid: int) -> tuple[nn.Sequential, int]:
    layers: list[nn.Module] = []
    for i, (c_in, c_out) in enumerate(zip([channels, *widths[:-1]], widths)):
        layers += [*_conv(c_in, c_out, batchnorm and i > 0), *_conv(c_out, c_out, batchnorm), nn.AvgPool2d(2)]
    dense = widths[-1]
    return nn.Sequential(*layers, nn.Flatten(), *_dense(widths[-1] * grid, dense), *_dense(dense, dense)), dense


class InceptionBlock(nn.Module):
    """(B, c_in, H, W) -> (B, 4 * branch, H, W): four branches side by side, each `branch` channels wide."""

    def __init__(self, c_in: int, branch: int, batchnorm: bool) -> None:
        super().__init__()

        def reduce() -> list[nn.Module]:  # 1x1 conv: fewer channels before the wider kernels
            return [nn.Conv2d(c_in, branch, 1), nn.LeakyReLU(0.2, True)]

        self.b1 = nn.Conv2d(c_in, branch, 1)
        self.b3 = nn.Sequential(*reduce(), nn.Conv2d(branch, branch, 3, 1, 1))
        self.b5 = nn.Sequential(*reduce(), *_conv(branch, branch, False), nn.Conv2d(branch, branch, 3, 1, 1))  # 2x 3x3
        self.pool = nn.Sequential(nn.AvgPool2d(3, 1, 1, count_include_pad=False), nn.Conv2d(c_in, branch, 1))
        self.out = nn.Sequential(*([nn.BatchNorm2d(4 * branch)] if batchnorm else []), nn.LeakyReLU(0.2, True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(torch.cat([self.b1(x), self.b3(x), self.b5(x), self.pool(x)], 1))


def inception_features(widths: list[int], channels: int, batchnorm: bool, grid: int) -> tuple[nn.Sequential, int]:
    layers: list[nn.Module] = _conv(channels, widths[0], False)  # stem: the image's own 3x3 conv
    c_in = widths[0]
    for c_out in widths:
        branch = max(1, c_out // 4)
        layers += [InceptionBlock(c_in, branch, batchnorm), *_conv(4 * branch, c_out, batchnorm, stride=2)]
        c_in = c_out
    dense = widths[-1]
    return nn.Sequential(*layers, nn.Flatten(), *_dense(widths[-1] * grid, dense)), dense


FEATURES = {"pool": pool_features, "vgg": vgg_features, "inception": inception_features}


class BackboneDiscriminator(nn.Module):
    """A backbone's features, then one linear logit (and InfoGAN's category logits beside it)."""

    def __init__(self, features: nn.Module, feature_dim: int, minibatch_std: bool = False,
                 latent_classes: int = 0) -> None:
        super().__init__()
        self.features = features  # -> (B, feature_dim)
        self.feature_dim = feature_dim
        self.mbstd = MinibatchStd() if minibatch_std else nn.Identity()  # -> (B, feature_dim + 1) when on
        self.head = nn.Linear(feature_dim + int(minibatch_std), 1)
        self.code_head = nn.Linear(feature_dim, latent_classes) if latent_classes else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.mbstd(self.features(x))).flatten()  # (B,) logits

    def forward_with_codes(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(real/fake logits (B,), category logits (B, latent_classes)) from one pass through the features."""
        h = self.features(x)
        return self.head(self.mbstd(h)).flatten(), self.code_head(h)


def make_discriminator(d_arch: str = "dcgan", resolution: int = 64, channels: int = 3, width: int = 64,
                       batchnorm: bool = True, minibatch_std: bool = False, aspect: str = "1:1",
                       latent_classes: int = 0) -> nn.Module:
    """D of this backbone; `channels` counts every packed image (PacGAN)."""
    if d_arch == "dcgan":
        return DCGANDiscriminator(resolution, channels, width, batchnorm, minibatch_std, aspect, latent_classes)
    if d_arch == "resnet":  # sums over the map: any aspect gives the same feature size
        features, dim = resnet_features(resolution, channels, width, batchnorm)
    elif d_arch in FEATURES:
        grid = math.prod(base_grid(aspect))  # pixels of the last map, flattened into the dense layer
        features, dim = FEATURES[d_arch](_widths(resolution, width)[::-1], channels, batchnorm, grid)
    else:
        raise ValueError(f"d_arch must be one of {D_ARCHS}, got {d_arch!r}")
    return BackboneDiscriminator(features, dim, minibatch_std, latent_classes)


def make_generator(g_arch: str = "dcgan", resolution: int = 64, channels: int = 3, latent_dim: int = 100,
                   width: int = 64, upsample: str = "transpose", aspect: str = "1:1",
                   latent_classes: int = 0) -> nn.Module:
    """G of this architecture; the residual G upscales by nearest neighbours (--upsample is DCGAN's)."""
    if g_arch == "dcgan":
        return DCGANGenerator(resolution, channels, latent_dim, width, upsample, aspect, latent_classes)
    if g_arch == "resnet":
        return ResNetGenerator(resolution, channels, latent_dim, width, aspect, latent_classes)
    raise ValueError(f"g_arch must be one of {G_ARCHS}, got {g_arch!r}")


# Radford et al. 2015; the image presets (config/presets.py) are measured on it
SPEC = ModelSpec(
    name="dcgan", summary="DCGAN: transposed convolutions up, strided convolutions down (the default; other "
                          "backbones by --d-arch and --g-arch)",
    conditional="conditional-dcgan", aspect=True, sections=("evaluation", "infogan"),
    example_args=dict(resolution=16, channels=1, latent_dim=8, g_width=4, d_width=4),
)


@register(SPEC)
def build_dcgan(
    resolution: int = 64, channels: int = 3, latent_dim: int = 100, g_width: int = 64, d_width: int = 64,
    d_batchnorm: bool = True, upsample: str = "transpose", minibatch_std: bool = False, pack: int = 1,
    aspect: str = "1:1", latent_classes: int = 0, d_arch: str = "dcgan", g_arch: str = "dcgan",
) -> tuple[nn.Module, nn.Module]:
    G = make_generator(g_arch, resolution, channels, latent_dim, g_width, upsample, aspect, latent_classes)
    D = make_discriminator(d_arch, resolution, channels * pack, d_width, d_batchnorm, minibatch_std, aspect,
                           latent_classes)  # pack: PacGAN
    return G, D
