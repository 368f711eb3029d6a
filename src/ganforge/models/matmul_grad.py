"""Stride-2 4x4 convs (and transposed convs) whose weight gradient is computed as one matrix product.

Why: on CPU, oneDNN's weight-gradient kernel for the convs between the 8 px and 4 px maps (D's last strided conv,
G's first upscaling) ran at about half its forward rate; unfolding the 8 px map into its 4x4 patches (a cheap copy)
and multiplying by the 4 px gradient gave the same sums 1.4-1.9x faster (benchmarks/weight_grad.py).
Forward and input gradient stay oneDNN's; the function and the parameters are exactly a conv's. Used only where
autograd needs the weight gradient on CPU; elsewhere (eval, export, CUDA) the plain op runs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def patches(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B * H/2 * W/2, 4 * 4 * C): the 4x4 window (stride 2, zero padding 1) under each output
    pixel of a stride-2 4x4 conv, as rows in (kernel row, kernel column, channel) order."""
    batch, channels, height, width = x.shape
    padded = F.pad(x, (1, 1, 1, 1)).permute(0, 2, 3, 1).contiguous()  # (B, H+2, W+2, C)
    sb, sh, sw, sc = padded.stride()
    windows = padded.as_strided((batch, height // 2, width // 2, 4, 4, channels), (sb, 2 * sh, 2 * sw, sh, sw, sc))
    return windows.reshape(-1, 16 * channels)


def weight_grad(big: torch.Tensor, small: torch.Tensor) -> torch.Tensor:
    """The 4x4 kernel's gradient, (C_small, C_big, 4, 4), linking a map `big` (B, C_big, H, W) to the half-size
    map `small` (B, C_small, H/2, W/2) across a stride-2 4x4 conv: sum over b, i, j of small[b, :, i, j] times
    big's window under (i, j)."""
    rows = small.permute(0, 2, 3, 1).reshape(-1, small.shape[1])  # (B * H/2 * W/2, C_small)
    return (rows.t() @ patches(big)).view(small.shape[1], 4, 4, big.shape[1]).permute(0, 3, 1, 2)


def _in_format_of(t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """t in `like`'s memory format (channels_last or contiguous)."""
    channels_last = like.is_contiguous(memory_format=torch.channels_last)
    return t.contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)


class _Stride2Conv4x4(torch.autograd.Function):
    """conv2d(x, w, stride 2, padding 1) or conv_transpose2d(x, w, stride 2, padding 1), 4x4 kernel, no bias."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, transposed: bool) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        ctx.transposed = transposed
        op = F.conv_transpose2d if transposed else F.conv2d
        return op(x, weight, None, 2, 1)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None, None]:
        x, weight = ctx.saved_tensors
        grad = _in_format_of(grad, x)
        grad_x = grad_w = None
        if ctx.needs_input_grad[0]:  # the adjoint: a transposed conv undoes a conv's shape and vice versa
            grad_x = (F.conv2d if ctx.transposed else F.conv_transpose2d)(grad, weight, None, 2, 1)
        if ctx.needs_input_grad[1]:  # conv: w (C_out, C_in) links x (big) to grad (small); transposed the reverse
            grad_w = _in_format_of(weight_grad(grad, x) if ctx.transposed else weight_grad(x, grad), weight)
        return grad_x, grad_w, None


def stride2_conv4x4(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                    transposed: bool = False) -> torch.Tensor:
    """F.conv2d / F.conv_transpose2d (stride 2, padding 1) of a 4x4 kernel, with the matmul weight gradient when
    autograd needs it on CPU (autocast's casts done first, as autocast would, so the gradient flows back to the
    fp32 master weight)."""
    op = F.conv_transpose2d if transposed else F.conv2d
    tracing = torch.jit.is_tracing() or torch.compiler.is_compiling()  # exports see the plain op
    if x.device.type != "cpu" or tracing or not (torch.is_grad_enabled() and weight.requires_grad):
        return op(x, weight, bias, 2, 1)
    if torch.is_autocast_enabled("cpu"):
        dtype = torch.get_autocast_dtype("cpu")
        x, weight = x.to(dtype), weight.to(dtype)
        bias = None if bias is None else bias.to(dtype)
    with torch.autocast("cpu", enabled=False):
        out = _Stride2Conv4x4.apply(x, weight, transposed)
        return out if bias is None else out + bias.view(1, -1, 1, 1)


class MatmulGradConv2d(nn.Conv2d):
    """nn.Conv2d(c_in, c_out, 4, 2, 1) with the matmul weight gradient (see the module docstring)."""

    def __init__(self, c_in: int, c_out: int, bias: bool = True) -> None:
        super().__init__(c_in, c_out, 4, 2, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return stride2_conv4x4(x, self.weight, self.bias)


class MatmulGradConvTranspose2d(nn.ConvTranspose2d):
    """nn.ConvTranspose2d(c_in, c_out, 4, 2, 1) with the matmul weight gradient (see the module docstring)."""

    def __init__(self, c_in: int, c_out: int, bias: bool = True) -> None:
        super().__init__(c_in, c_out, 4, 2, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return stride2_conv4x4(x, self.weight, self.bias, transposed=True)
