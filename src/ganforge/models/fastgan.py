"""A lightweight FastGAN-style pair for small data sets at 128-256 px (Liu et al. 2021, in spirit).

G: z -> 4-pixel grid -> [nearest x2, 3x3 conv, BN, GLU] per doubling, with skip-layer excitation
(SLE): the features at r px gate, channel by channel, those at 8r px. The low-resolution layers thus
steer the high-resolution ones directly, a cheap long skip that needs no extra resolution work.
D: residual strided blocks with spectral norm down to 8 px, then one logit.
Small widths throughout: few parameters to overfit a few hundred images. The paper's self-supervised
reconstruction decoders in D are not included; DiffAugment comes from the recipe.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from ganforge.models.registry import register
from ganforge.models.scaled import grid_sizes, num_doublings, scale_widths
from ganforge.models.spec import OWN_D_INPUT, ModelSpec

SLE_SPAN = 3  # features at r px excite those at r * 2^3 px (8 -> 64, 16 -> 128, 32 -> 256)


class SkipLayerExcitation(nn.Module):
    """Channel gates for the large feature map from the small one: pool to 4x4, conv, LReLU, 1x1 conv, sigmoid."""

    def __init__(self, c_small: int, c_large: int) -> None:
        super().__init__()
        self.gate = nn.Sequential(nn.AdaptiveAvgPool2d(4), nn.Conv2d(c_small, c_large, 4), nn.LeakyReLU(0.1),
                                  nn.Conv2d(c_large, c_large, 1), nn.Sigmoid())

    def forward(self, small: torch.Tensor, large: torch.Tensor) -> torch.Tensor:
        return large * self.gate(small)  # (B, c_large, 1, 1) gates broadcast over the large map


def _up_block(c_in: int, c_out: int) -> nn.Sequential:
    """x2 nearest + 3x3 conv to 2*c_out, BN, GLU (halves the channels back to c_out)."""
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c_in, 2 * c_out, 3, 1, 1, bias=False),
                         nn.BatchNorm2d(2 * c_out), nn.GLU(dim=1))


class FastGANGenerator(nn.Module):
    def __init__(self, resolution: int = 128, channels: int = 3, latent_dim: int = 100, width: int = 8,
                 aspect: str = "1:1") -> None:
        super().__init__()
        self.latent_dim = latent_dim
        widths = scale_widths(resolution, width)  # at 4, 8, ..., R px
        self.grid = grid_sizes(resolution, aspect)[0]
        self.init = nn.Sequential(nn.ConvTranspose2d(latent_dim, 2 * widths[0], self.grid, bias=False),
                                  nn.BatchNorm2d(2 * widths[0]), nn.GLU(dim=1))  # (B, z, 1, 1) -> (B, w0, h0, w0)
        self.blocks = nn.ModuleList(_up_block(c_in, c_out) for c_in, c_out in zip(widths[:-1], widths[1:]))
        # SLE from scale s (8 px and up, s >= 1) to scale s + SLE_SPAN, where both exist
        self.sle_pairs = [(s, s + SLE_SPAN) for s in range(1, num_doublings(resolution) + 1 - SLE_SPAN)]
        self.sle = nn.ModuleList(SkipLayerExcitation(widths[s], widths[t]) for s, t in self.sle_pairs)
        self.to_rgb = nn.Sequential(nn.Conv2d(widths[-1], channels, 3, 1, 1), nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.init(z.view(z.shape[0], self.latent_dim, 1, 1))
        features = [h]
        excite = {t: (s, sle) for (s, t), sle in zip(self.sle_pairs, self.sle)}
        for scale, block in enumerate(self.blocks, start=1):
            h = block(h)
            if scale in excite:
                source, sle = excite[scale]
                h = sle(features[source], h)
            features.append(h)
        return self.to_rgb(h)  # (B, C, H, W)


class _DownBlock(nn.Module):
    """Halves the size: strided 4x4 conv path + (avg pool, 1x1 conv) shortcut, averaged."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.main = nn.Sequential(spectral_norm(nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False)), nn.BatchNorm2d(c_out),
                                  nn.LeakyReLU(0.2), spectral_norm(nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)),
                                  nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2))
        self.skip = nn.Sequential(nn.AvgPool2d(2), spectral_norm(nn.Conv2d(c_in, c_out, 1, bias=False)),
                                  nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.main(x) + self.skip(x)) / 2


class FastGANDiscriminator(nn.Module):
    def __init__(self, resolution: int = 128, channels: int = 3, width: int = 8, aspect: str = "1:1") -> None:
        super().__init__()
        widths = scale_widths(resolution, width)[::-1]  # at R, R/2, ..., 4 px
        self.stem = nn.Sequential(spectral_norm(nn.Conv2d(channels, widths[0], 3, 1, 1)), nn.LeakyReLU(0.2))
        self.blocks = nn.Sequential(*(_DownBlock(c_in, c_out) for c_in, c_out in zip(widths[:-1], widths[1:])))
        self.head = spectral_norm(nn.Conv2d(widths[-1], 1, grid_sizes(resolution, aspect)[0]))  # 4-px grid -> 1

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """What the head judges: the 4-pixel-grid features, (B, w, h0, w0) (the training doctor compares these
        between generated and real batches)."""
        return self.blocks(self.stem(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).flatten()  # (B,) logits


# FastGAN's D spectral-normalises and augments (DiffAugment) its own inputs; picked without --model for
# small data sets at 128 px and up (config/resolver.py)
SPEC = ModelSpec(
    name="fastgan", summary="FastGAN-style: skip-layer excitation and DiffAugment, for a few hundred images",
    recipe="fastgan", aspect=True, sections=("evaluation",), small_data_from=128,
    defaults=dict(loss="rahinge", lr_g=2e-4, lr_d=2e-4, beta1=0.5, beta2=0.999, g_width=8, d_width=8),
    **OWN_D_INPUT,
    example_args=dict(resolution=16, channels=1, latent_dim=8, g_width=4, d_width=4),
)


@register(SPEC)
def build_fastgan(resolution: int = 128, channels: int = 3, latent_dim: int = 100, g_width: int = 8,
                  d_width: int = 8, aspect: str = "1:1") -> tuple[nn.Module, nn.Module]:
    return (FastGANGenerator(resolution, channels, latent_dim, g_width, aspect),
            FastGANDiscriminator(resolution, channels, d_width, aspect))
