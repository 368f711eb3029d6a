"""pix2pix networks by name: a U-Net generator and a PatchGAN discriminator that sees cat(input, output)."""

from __future__ import annotations

from torch import nn

from ganforge.models import MODELS
from ganforge.models.patchgan import PatchDiscriminator
from ganforge.models.unet import UNetGenerator


@MODELS.register("pix2pix")
def build_pix2pix(resolution: int = 256, in_channels: int = 3, out_channels: int = 3, g_width: int = 64,
                  d_width: int = 64, patch_size: int = 70, dropout: float = 0.5) -> tuple[nn.Module, nn.Module]:
    G = UNetGenerator(in_channels, out_channels, resolution, g_width, dropout)
    D = PatchDiscriminator(in_channels + out_channels, d_width, patch_size)
    return G, D
