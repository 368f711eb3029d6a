"""MSG-GAN (Karnewar & Wang 2020): multi-scale gradients, every resolution trained at once.

G emits an image at every scale (4 px ... R); D takes each scale in at the depth where its own
features have that size, concatenated with them. Gradients therefore reach every G layer directly
from D, which is what keeps high-resolution training stable without growing the networks.

Contract: G(z) is the full-size image, as for every model; `G.scales(z)` is the list of all scales,
smallest first. D accepts that list, or full-size images (it then builds the list by 2x2 averaging,
which is also how real images are shown to it).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.models.registry import register
from ganforge.models.scaled import (
    DiscriminatorHead,
    EqualConv2d,
    ScaleGenerator,
    conv_act,
    grid_sizes,
    image_pyramid,
    scale_widths,
)
from ganforge.models.spec import OWN_D_INPUT, ModelSpec


class MSGGenerator(ScaleGenerator):
    def __init__(self, resolution: int = 64, channels: int = 3, latent_dim: int = 100, width: int = 16,
                 aspect: str = "1:1") -> None:
        super().__init__(resolution, channels, latent_dim, width, aspect)

    def scales(self, z: torch.Tensor) -> list[torch.Tensor]:
        """Images at every scale, smallest first: [(B, C, 4, 4), (B, C, 8, 8), ..., (B, C, R, R)]."""
        h = self.stem(z)
        images = [torch.tanh(self.to_rgb[0](h))]
        for block, to_rgb in zip(self.blocks, self.to_rgb[1:]):
            h = block(h)
            images.append(torch.tanh(to_rgb(h)))
        return images

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.scales(z)[-1]


class MSGDiscriminator(nn.Module):
    def __init__(self, resolution: int = 64, channels: int = 3, width: int = 16, aspect: str = "1:1") -> None:
        super().__init__()
        widths = scale_widths(resolution, width)[::-1]  # at R, R/2, ..., 4 px
        self.levels = len(widths)
        self.from_rgb = EqualConv2d(channels, widths[0], 1)
        # block k works at scale R / 2^k; from the second block on, its input also holds that scale's image
        self.blocks = nn.ModuleList(
            nn.Sequential(*conv_act(c_in + (channels if k else 0), c_in, pixel_norm=False),
                          *conv_act(c_in, c_out, pixel_norm=False), nn.AvgPool2d(2))
            for k, (c_in, c_out) in enumerate(zip(widths[:-1], widths[1:])))
        self.head = DiscriminatorHead(widths[-1] + channels, grid_sizes(resolution, aspect)[0])

    def features(self, images: torch.Tensor | list[torch.Tensor]) -> torch.Tensor:
        """What the head judges: the 4-pixel-grid features beside the smallest scale, (B, w + C, h0, w0)
        (the training doctor compares these between generated and real batches)."""
        scales = image_pyramid(images, self.levels) if torch.is_tensor(images) else list(images)
        if len(scales) != self.levels:
            raise ValueError(f"MSG discriminator takes {self.levels} scales, got {len(scales)}")
        scales = scales[::-1]  # largest first
        h = F.leaky_relu(self.from_rgb(scales[0]), 0.2)
        for k, block in enumerate(self.blocks):
            h = block(h if k == 0 else torch.cat([h, scales[k]], 1))
        return torch.cat([h, scales[-1]], 1)

    def forward(self, images: torch.Tensor | list[torch.Tensor]) -> torch.Tensor:
        return self.head(self.features(images))  # (B,) logits


# an equalised learning rate, so Adam with a larger step and beta1 = 0 (ProGAN, MSG-GAN); relativistic
# average hinge is MSG-GAN's loss. D takes a list of scales: the D-input stabilisers cannot wrap it.
SPEC = ModelSpec(
    name="msg", summary="MSG-GAN: D sees G's image at every scale (stable at high resolution)",
    recipe="msg", aspect=True, sections=("evaluation",),
    defaults=dict(loss="rahinge", lr_g=1e-3, lr_d=1e-3, beta1=0.0, beta2=0.99, g_width=16, d_width=16),
    **OWN_D_INPUT,
    example_args=dict(resolution=16, channels=1, latent_dim=8, g_width=4, d_width=4),
)


@register(SPEC)
def build_msg(resolution: int = 64, channels: int = 3, latent_dim: int = 100, g_width: int = 16, d_width: int = 16,
              aspect: str = "1:1") -> tuple[nn.Module, nn.Module]:
    return (MSGGenerator(resolution, channels, latent_dim, g_width, aspect),
            MSGDiscriminator(resolution, channels, d_width, aspect))
