"""Class-conditional DCGAN (any --d-arch / --g-arch): G gets a learned class embedding beside z, D is a projection
discriminator.

Projection (Miyato & Koyama 2018): D's logit is psi(phi(x)) + <embed(y), phi(x)>, so the label enters
as an inner product with D's features instead of being concatenated to the image; it is the form
that makes D judge "is this a good example *of this class*" rather than "is this a good image".
"""

from __future__ import annotations

import torch
from torch import nn

from ganforge.models.backbones import make_discriminator, make_generator
from ganforge.models.registry import register
from ganforge.models.spec import ModelSpec

EMBED_DIM = 32  # size of G's class embedding


class ConditionalDCGANGenerator(nn.Module):
    """z (B, latent_dim) and labels (B,) -> images: the generator (--g-arch) fed cat(z, embed(labels))."""

    def __init__(self, resolution: int = 64, channels: int = 3, latent_dim: int = 100, width: int = 64,
                 num_classes: int = 10, embed_dim: int = EMBED_DIM, upsample: str = "transpose", g_arch: str = "dcgan",
                 body: nn.Module | None = None) -> None:
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"a conditional model needs at least 2 classes, got {num_classes}")
        self.latent_dim = latent_dim
        self.num_classes = num_classes
        self.embed = nn.Embedding(num_classes, embed_dim)
        nn.init.normal_(self.embed.weight, 0.0, 1.0)  # same scale as z, so the label is not drowned out
        # body: another G taking latent_dim + embed_dim inputs (mlp-gan's)
        self.body = body if body is not None else make_generator(g_arch, resolution, channels, latent_dim + embed_dim,
                                                                 width, upsample)

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.body(torch.cat([z, self.embed(labels).to(z.dtype)], dim=1))


class ProjectionDiscriminator(nn.Module):
    """images (B, C, H, W) and labels (B,) -> logits (B,): a backbone's features, its linear head plus a projection.

    backbone: an unconditional D with `features`, `mbstd`, `head` and `feature_dim` (models/backbones.py); only
    those are kept, so a DCGAN backbone keeps the keys conditional runs have always had."""

    def __init__(self, backbone: nn.Module, num_classes: int = 10) -> None:
        super().__init__()
        self.features = backbone.features  # -> (B, w, 4, 4) for DCGAN's, (B, feature_dim) for the others
        self.mbstd = backbone.mbstd  # --minibatch-std: one more feature for psi (the projection ignores it)
        self.head = backbone.head  # psi: the unconditional "is it real" logit
        self.embed = nn.Embedding(num_classes, backbone.feature_dim)  # one projection vector per class
        nn.init.normal_(self.embed.weight, 0.0, 0.02)

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        h = self.features(x)
        projection = (h.flatten(1) * self.embed(labels).to(h.dtype)).sum(dim=1)  # (B,)
        return self.head(self.mbstd(h)).flatten() + projection


# chosen by --model dcgan --conditional; a class-conditional D judges each sample with its own label
SPEC = ModelSpec(
    name="conditional-dcgan", summary="class-conditional DCGAN with a projection discriminator",
    recipe="conditional", pickable=False, instead="--model dcgan --conditional", refuses=("pack",),
    supports="a class-conditional D judges each sample with its own label, so samples cannot be packed; use "
             "--minibatch-std to let D see the batch's spread instead",
    sections=("evaluation",), inputs="latent+labels",
    example_args=dict(resolution=16, channels=1, latent_dim=8, g_width=4, d_width=4, num_classes=3),
)


@register(SPEC)
def build_conditional_dcgan(
    resolution: int = 64, channels: int = 3, latent_dim: int = 100, g_width: int = 64, d_width: int = 64,
    d_batchnorm: bool = True, upsample: str = "transpose", num_classes: int = 10, minibatch_std: bool = False,
    d_arch: str = "dcgan", g_arch: str = "dcgan",
) -> tuple[nn.Module, nn.Module]:
    G = ConditionalDCGANGenerator(resolution, channels, latent_dim, g_width, num_classes, upsample=upsample,
                                  g_arch=g_arch)
    D = ProjectionDiscriminator(make_discriminator(d_arch, resolution, channels, d_width, d_batchnorm, minibatch_std),
                                num_classes)
    return G, D
