"""A network's ends as the linear layers they are: D's heads (a kernel covering the whole map) and G's stem (a
transposed conv from a 1x1 latent). oneDNN ran these tiny-output convs and their backward several times slower than
the matmul they are (figures: docs/speed.md); parameters and state-dict keys stay the conv's."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.accel.base import Accelerated


class WholeInputConv(Accelerated, nn.Conv2d):
    """An nn.Conv2d (no padding) computed as a linear layer over the flattened map when its kernel covers the whole
    input (other input sizes run the conv)."""

    @classmethod
    def fits(cls, plain: nn.Module) -> bool:
        return (super().fits(plain) and plain.padding == (0, 0) and plain.dilation == (1, 1) and plain.groups == 1
                and plain.kernel_size != (1, 1))  # a 1x1 conv is a matmul for oneDNN already

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[-2:]) != self.kernel_size:
            return super().forward(x)
        # (B, H, W, C) order: a view of a channels_last map and kernel (a copy of contiguous ones; same sum)
        out = F.linear(x.permute(0, 2, 3, 1).flatten(1), self.weight.permute(0, 2, 3, 1).flatten(1), self.bias)
        return out.view(x.shape[0], -1, 1, 1)


class LatentStem(Accelerated, nn.ConvTranspose2d):
    """An nn.ConvTranspose2d (stride 1, no padding) computed as a linear layer when its input is 1x1 (a latent):
    (B, latent, 1, 1) -> (B, C, h, w) in the weight's memory format."""

    @classmethod
    def fits(cls, plain: nn.Module) -> bool:
        return super().fits(plain) and (plain.stride, plain.padding, plain.dilation, plain.output_padding,
                                        plain.groups) == ((1, 1), (0, 0), (1, 1), (0, 0), 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if tuple(z.shape[-2:]) != (1, 1):
            return super().forward(z)
        c_in, c_out, h, w = self.weight.shape
        out = z.flatten(1) @ self.weight.permute(0, 2, 3, 1).reshape(c_in, h * w * c_out)  # (B, h*w*C), HWC order
        if self.bias is not None:
            out = out + self.bias.repeat(h * w)
        out = out.view(-1, h, w, c_out).permute(0, 3, 1, 2)  # channels_last strides
        return out if self.weight.is_contiguous(memory_format=torch.channels_last) else out.contiguous()
