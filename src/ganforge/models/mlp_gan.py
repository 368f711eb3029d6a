"""The original GAN (Goodfellow et al. 2014) for images: fully connected G and D, as on MNIST.

G: z -> [Linear + BN + ReLU] at g, 2g, 4g units -> Linear to every pixel -> tanh -> (C, H, W).
D: image, flattened -> [Linear + LeakyReLU(0.2) + dropout] at 4d, 2d, d units -> one logit.
Any image size up to 64 px on the shorter side (a 64x64x3 image is already 12,288 inputs to D's first layer).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ganforge.aspect import image_size
from ganforge.errors import GanforgeError
from ganforge.models.conditional import EMBED_DIM, ConditionalDCGANGenerator, ProjectionDiscriminator
from ganforge.models.layers import MinibatchStd
from ganforge.models.registry import register
from ganforge.models.spec import ModelSpec

MAX_RESOLUTION = 64
D_DROPOUT = 0.3  # the 2014 paper trains D with dropout; it keeps a fully connected D from memorising pixels


class MLPImageGenerator(nn.Module):
    def __init__(self, resolution: int = 32, channels: int = 1, latent_dim: int = 100, width: int = 256,
                 aspect: str = "1:1") -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.shape = (channels, *image_size(resolution, aspect))
        layers: list[nn.Module] = []
        c_in = latent_dim
        for units in (width, 2 * width, 4 * width):
            layers += [nn.Linear(c_in, units, bias=False), nn.BatchNorm1d(units), nn.ReLU(True)]
            c_in = units
        layers += [nn.Linear(c_in, self.shape[0] * self.shape[1] * self.shape[2]), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:  # (B, latent_dim) -> (B, C, H, W)
        return self.net(z).view(z.shape[0], *self.shape)


class MLPImageDiscriminator(nn.Module):
    """`features` (B, d) is the last hidden layer: what projection conditioning and the training doctor read."""

    def __init__(self, resolution: int = 32, channels: int = 1, width: int = 256, batchnorm: bool = False,
                 minibatch_std: bool = False, aspect: str = "1:1") -> None:
        super().__init__()
        h, w = image_size(resolution, aspect)
        layers: list[nn.Module] = [nn.Flatten()]
        c_in = channels * h * w
        for i, units in enumerate((4 * width, 2 * width, width)):
            layers.append(nn.Linear(c_in, units, bias=not (batchnorm and i)))
            if batchnorm and i:  # not on the input layer, as in DCGAN's D
                layers.append(nn.BatchNorm1d(units))
            layers += [nn.LeakyReLU(0.2, True), nn.Dropout(D_DROPOUT)]
            c_in = units
        self.features = nn.Sequential(*layers)
        self.feature_dim = width
        self.mbstd = MinibatchStd() if minibatch_std else nn.Identity()  # the batch's spread, one more input to head
        self.head = nn.Linear(width + int(minibatch_std), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.mbstd(self.features(x))).flatten()  # (B,) logits


def check_settings(cfg: Any) -> None:
    if cfg.resolution is not None and cfg.resolution > MAX_RESOLUTION:
        raise GanforgeError(f"--resolution {cfg.resolution}: --model mlp-gan is fully connected and goes up to "
                            f"{MAX_RESOLUTION} px; use --model dcgan for larger images")


# what the fully connected pair shares with its class-conditional variant
COMMON: dict[str, Any] = dict(
    # a fully connected G has no upscaling; its hidden layers are g, 2g, 4g units wide and D's 4d, 2d, d
    defaults=dict(g_width=256, d_width=256, d_batchnorm=False),
    refuses=("upsample=nearest", "upsample=subpixel"),
    supports="its G is fully connected and has no upscaling layers",
    sections=("evaluation",), check=check_settings,
)

SPEC = ModelSpec(
    name="mlp-gan", summary="the original fully connected GAN (Goodfellow et al. 2014), images up to 64 px",
    conditional="conditional-mlp-gan", aspect=True, **COMMON,
    example_args=dict(resolution=16, channels=1, latent_dim=8, g_width=4, d_width=4),
)


@register(SPEC)
def build_mlp_gan(
    resolution: int = 32, channels: int = 1, latent_dim: int = 100, g_width: int = 256, d_width: int = 256,
    d_batchnorm: bool = False, upsample: str = "transpose", minibatch_std: bool = False, pack: int = 1,
    aspect: str = "1:1",
) -> tuple[nn.Module, nn.Module]:
    G = MLPImageGenerator(resolution, channels, latent_dim, g_width, aspect)
    D = MLPImageDiscriminator(resolution, channels * pack, d_width, d_batchnorm, minibatch_std, aspect)  # pack: PacGAN
    return G, D


# chosen by --model mlp-gan --conditional: G gets a class embedding beside z, D a projection of its last hidden layer
CONDITIONAL_SPEC = ModelSpec(
    name="conditional-mlp-gan", summary="class-conditional fully connected GAN with a projection discriminator",
    recipe="conditional", pickable=False, instead="--model mlp-gan --conditional", inputs="latent+labels",
    **{**COMMON, "refuses": (*COMMON["refuses"], "pack"),
       "supports": "a class-conditional D judges each sample with its own label, so samples cannot be packed; "
                   "a fully connected G has no upscaling layers (--upsample)"},
    example_args=dict(resolution=16, channels=1, latent_dim=8, g_width=4, d_width=4, num_classes=3),
)


@register(CONDITIONAL_SPEC)
def build_conditional_mlp_gan(
    resolution: int = 32, channels: int = 1, latent_dim: int = 100, g_width: int = 256, d_width: int = 256,
    d_batchnorm: bool = False, upsample: str = "transpose", num_classes: int = 10, minibatch_std: bool = False,
) -> tuple[nn.Module, nn.Module]:
    G = ConditionalDCGANGenerator(num_classes=num_classes, latent_dim=latent_dim,
                                  body=MLPImageGenerator(resolution, channels, latent_dim + EMBED_DIM, g_width))
    D = ProjectionDiscriminator(MLPImageDiscriminator(resolution, channels, d_width, d_batchnorm, minibatch_std),
                                num_classes)
    return G, D
