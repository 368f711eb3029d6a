"""The PatchGAN discriminator (pix2pix): one real/fake logit per overlapping image patch.

Each output logit sees a `receptive_field` x `receptive_field` patch of the input. The 70x70 default
judges texture and local structure; L1 takes care of low frequencies. Layers: `n` stride-2 4x4
convs, one stride-1 4x4 conv, and a stride-1 4x4 conv to one channel; the field is 9 * 2^n - 2 px:
16, 34, 70, 142, 286 for n = 1..5.
"""

from __future__ import annotations

import torch
from torch import nn

from ganforge.errors import GanforgeError
from ganforge.models.dcgan import dcgan_init
from ganforge.models.unet import norm_layer


def receptive_field(n_strided: int) -> int:
    """Receptive field in pixels of a PatchGAN with n stride-2 layers, walking back from one output logit."""
    field = 1 + 3 + 3  # the two 4x4 stride-1 convs at the end
    for _ in range(n_strided):
        field = 2 * field + 2  # 4x4 stride-2 conv
    return field


PATCH_SIZES = {receptive_field(n): n for n in range(1, 6)}  # {16: 1, 34: 2, 70: 3, 142: 4, 286: 5}


def strided_layers_for(patch_size: int) -> int:
    if patch_size not in PATCH_SIZES:
        sizes = ", ".join(str(s) for s in PATCH_SIZES)
        raise GanforgeError(f"--patch-size must be one of {sizes} (PatchGAN receptive fields), got {patch_size}")
    return PATCH_SIZES[patch_size]


def patch_grid_size(size: int, patch_size: int) -> int:
    """Logits per side for a `size`-pixel input: halved per stride-2 layer, minus 1 per stride-1 layer."""
    return size // 2 ** strided_layers_for(patch_size) - 2


class PatchDiscriminator(nn.Module):
    """(B, channels, H, W) -> (B, 1, h, w) logits; give it cat(input, output) so it judges the pair."""

    def __init__(self, channels: int = 6, width: int = 64, patch_size: int = 70, cap_multiplier: int = 8,
                 norm: str = "batch") -> None:
        super().__init__()
        n = strided_layers_for(patch_size)
        widths = [width * min(2**i, cap_multiplier) for i in range(n + 1)]
        layers: list[nn.Module] = [nn.Conv2d(channels, widths[0], 4, 2, 1), nn.LeakyReLU(0.2)]
        for i in range(1, n + 1):
            stride = 2 if i < n else 1
            layers += [nn.Conv2d(widths[i - 1], widths[i], 4, stride, 1, bias=False), norm_layer(norm, widths[i]),
                       nn.LeakyReLU(0.2)]
        layers.append(nn.Conv2d(widths[n], 1, 4, 1, 1))
        self.net = nn.Sequential(*layers)
        self.apply(dcgan_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
