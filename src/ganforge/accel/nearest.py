"""nn.Upsample(x2, nearest) + a 3x3 conv, computed on the small map as one stride-2 transposed conv.

The same result (to float rounding) and the same parameters, with 16 multiply-adds per input pixel instead of 36,
without the upscaled copy of the input (4x its size), on oneDNN's fast transposed-conv kernels and through
accel/stride2.py's forms. Figures: docs/speed.md.
"""

from __future__ import annotations

import torch
from torch import nn

from ganforge.accel.base import Accelerated
from ganforge.accel.policy import AccelPolicy
from ganforge.accel.stride2 import stride2_conv4x4
from ganforge.models.scaled import EqualConv2d

# Nearest x2 then a 3x3 conv is a transposed conv (4x4 kernel, stride 2, padding 1) with a folded kernel. Output row
# 2i sees small-map rows (i-1, i, i) through kernel rows (0, 1, 2), and row 2i+1 sees (i, i, i+1); a transposed
# conv's output row 2i reads input row i-1 through its kernel row 3 and row i through row 1, and output row 2i+1
# reads row i through row 2 and row i+1 through row 0. So its rows 0..3 are: w2, w1 + w2, w0 + w1, w0.
_FOLD_ROWS = torch.tensor([[0.0, 0, 1], [0, 1, 1], [1, 1, 0], [1, 0, 0]])


def fold_nearest(weight: torch.Tensor) -> torch.Tensor:
    """A (C_out, C_in, 3, 3) kernel meant for the 2x nearest-upscaled map -> the (C_in, C_out, 4, 4) kernel of
    the stride-2 transposed conv on the small map that computes the same output."""
    rows = _FOLD_ROWS.to(weight)
    return torch.einsum("kh,lw,oihw->iokl", rows, rows, weight)


def nearest_conv(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, policy: AccelPolicy,
                 matmul_grad: bool = True) -> torch.Tensor:
    """conv2d(2x nearest upscale of x, weight (3x3), bias, padding=1), computed on x as one transposed conv
    (through stride2_conv4x4's forms; `matmul_grad`: whether it may take the matmul weight gradient)."""
    return stride2_conv4x4(x, fold_nearest(weight), bias, policy, transposed=True, matmul_grad=matmul_grad)


class NearestConv(Accelerated, nn.Conv2d):
    """A 3x3 nn.Conv2d (padding 1) that follows nn.Upsample(x2, nearest), applied to the Upsample's input (the
    Upsample becomes nn.Identity, which keeps its place in the state-dict keys)."""

    matmul_grad = True  # whether it may take the matmul weight gradient (accelerate: not the image layers)

    @classmethod
    def fits(cls, plain: nn.Module) -> bool:
        return super().fits(plain) and (plain.kernel_size, plain.stride, plain.padding, plain.dilation, plain.groups,
                                        plain.padding_mode) == ((3, 3), (1, 1), (1, 1), (1, 1), 1, "zeros")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nearest_conv(x, self.weight, self.bias, self.policy, self.matmul_grad)


class NearestEqualConv2d(Accelerated, EqualConv2d):
    """The same fold for the equalised-learning-rate 3x3 conv of MSG-GAN and progressive growing."""

    matmul_grad = True

    @classmethod
    def fits(cls, plain: nn.Module) -> bool:
        return super().fits(plain) and plain.weight.shape[-2:] == (3, 3) and plain.padding == 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nearest_conv(x, self.weight * self.scale, self.bias, self.policy, self.matmul_grad)
