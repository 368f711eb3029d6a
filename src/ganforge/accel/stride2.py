"""4x4 stride-2 convs and transposed convs (padding 1), with faster CPU formulations of the same sums.

1. The weight gradient as one matrix product (AccelPolicy.matmul_grad_*): oneDNN's weight-gradient kernel for the
   convs near the 4 px grid ran at about half its forward rate; unfolding the larger map into its 4x4 windows (a
   cheap copy) and multiplying by the smaller map's gradient beat it in bf16, not in fp32.
2. A transposed conv with few output channels (G's last layer, 1 or 3; also the input gradient of D's first conv,
   which is that transposed conv) as a 3x3 conv to 4x the channels + pixel shuffle (AccelPolicy.subpixel_max_outputs):
   each output phase (the position in a 2x2 block) reads a 2x2 window of the input, and the 3x3 kernel holds all
   four phases. oneDNN ran the few-output transposed conv at a tenth of its usual rate.
3. Wide layers near the 4 px grid by Winograd's F(2x2, 2x2) in bf16 (accel/winograd.py; AccelPolicy.winograd_*).

Parameters and results are exactly a conv's (to float rounding). Used on CPU when autograd or (2) has something
to gain; CUDA, tracing and export see the plain op. Figures: docs/speed.md.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

import ganforge.accel.winograd as winograd
from ganforge.accel.base import Accelerated
from ganforge.accel.policy import AccelPolicy

# _PHASE_TAPS[a, d, k] = 1 where output row 2i + a of a stride-2 transposed conv reads input row i - 1 + d through
# kernel row k (padding 1): row 2i reads row i - 1 through kernel row 3 and row i through row 1; row 2i + 1 reads
# row i through row 2 and row i + 1 through row 0. Columns alike.
_PHASE_TAPS = torch.zeros(2, 3, 4)
for _a, _d, _k in ((0, 0, 3), (0, 1, 1), (1, 1, 2), (1, 2, 0)):
    _PHASE_TAPS[_a, _d, _k] = 1.0


def subpixel_kernel(weight: torch.Tensor) -> torch.Tensor:
    """A stride-2 transposed conv's (C_in, C_out, 4, 4) kernel -> the (4 * C_out, C_in, 3, 3) kernel of the 3x3
    conv (padding 1) whose 2x pixel shuffle is the same output: channel 4o + 2a + b makes output phase (a, b)."""
    taps = _PHASE_TAPS.to(weight)
    c_in, c_out = weight.shape[:2]
    return torch.einsum("adk,bel,iokl->oabide", taps, taps, weight).reshape(4 * c_out, c_in, 3, 3)


def conv_transpose_s2(x: torch.Tensor, weight: torch.Tensor, subpixel: bool) -> torch.Tensor:
    """F.conv_transpose2d(x, weight, stride 2, padding 1), as a 3x3 conv + pixel shuffle if `subpixel`; in x's
    memory format."""
    if subpixel:
        return _in_format_of(F.pixel_shuffle(F.conv2d(x, subpixel_kernel(weight), None, 1, 1), 2), x)
    return F.conv_transpose2d(x, weight, None, 2, 1)


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


def _forward(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, transposed: bool,
             subpixel: bool) -> torch.Tensor:
    if not transposed:
        return F.conv2d(x, weight, bias, 2, 1)
    out = conv_transpose_s2(x, weight, subpixel)
    return out if bias is None else out + bias.view(1, -1, 1, 1)


class _Stride2Conv4x4(torch.autograd.Function):
    """conv2d(x, w, b, stride 2, padding 1) or conv_transpose2d(x, w, b, stride 2, padding 1), 4x4 kernel."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, transposed: bool,
                subpixel: bool, matmul_grad: bool) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        ctx.transposed, ctx.subpixel, ctx.matmul_grad = transposed, subpixel, matmul_grad
        return _forward(x, weight, bias, transposed, subpixel)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x, weight = ctx.saved_tensors
        grad = _in_format_of(grad, x)
        needs_x, needs_w, needs_b = ctx.needs_input_grad[:3]
        grad_x = grad_w = grad_b = None
        if needs_x:  # the adjoint: a transposed conv undoes a conv's shape and vice versa (in x's memory format:
            # with one channel both formats fit, and oneDNN picks by the kernel's)
            grad_x = (F.conv2d(grad, weight, None, 2, 1) if ctx.transposed
                      else conv_transpose_s2(grad, weight, ctx.subpixel))
            grad_x = _in_format_of(grad_x, x)
        if ctx.matmul_grad:  # conv: w (C_out, C_in) links x (big) to grad (small); transposed the reverse
            if needs_w:
                grad_w = _in_format_of(weight_grad(grad, x) if ctx.transposed else weight_grad(x, grad), weight)
            if needs_b:
                grad_b = grad.sum((0, 2, 3))
        elif needs_w or needs_b:
            _, grad_w, grad_b = torch.ops.aten.convolution_backward(
                grad, x, weight, [grad.shape[1]] if needs_b else None, [2, 2], [1, 1], [1, 1], ctx.transposed,
                [0, 0], 1, [False, needs_w, needs_b])
        return grad_x, grad_w, grad_b, None, None, None


def _larger_map(x: torch.Tensor, transposed: bool) -> tuple[int, int]:
    """(height, width) of the layer's larger map: a conv's input, a transposed conv's output."""
    scale = 2 if transposed else 1
    return x.shape[-2] * scale, x.shape[-1] * scale


def _winograd_applies(x: torch.Tensor, weight: torch.Tensor, transposed: bool, dtype: torch.dtype,
                      policy: AccelPolicy) -> bool:
    return (dtype in policy.winograd_dtypes and x.dtype in (dtype, torch.float32)
            and max(_larger_map(x, transposed)) <= policy.winograd_max_px
            and min(weight.shape[:2]) >= policy.winograd_min_channels and winograd.applies(x, transposed))


def stride2_conv4x4(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, policy: AccelPolicy,
                    transposed: bool = False, matmul_grad: bool = True) -> torch.Tensor:
    """F.conv2d / F.conv_transpose2d (stride 2, padding 1) of a 4x4 kernel, through the forms `policy` allows where
    they apply (`matmul_grad`: whether this layer may take the matmul weight gradient). Autocast's casts are done
    first, as autocast would, so gradients flow back to fp32 master weights."""
    op = F.conv_transpose2d if transposed else F.conv2d
    tracing = torch.jit.is_tracing() or torch.compiler.is_compiling()  # exports see the plain op
    if x.device.type != "cpu" or tracing or (not transposed and (x.shape[-2] % 2 or x.shape[-1] % 2)):
        return op(x, weight, bias, 2, 1)  # (an odd-sized input: the transposed adjoint would miss a row)
    subpixel = weight.shape[1] <= policy.subpixel_max_outputs  # forward (transposed) or input gradient (conv)
    needs_grad = torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in (x, weight, bias))
    autocast = torch.is_autocast_enabled("cpu")
    dtype = torch.get_autocast_dtype("cpu") if autocast else x.dtype
    use_winograd = _winograd_applies(x, weight, transposed, dtype, policy)
    matmul_grad = (matmul_grad and needs_grad and dtype in policy.matmul_grad_dtypes
                   and min(_larger_map(x, transposed)) <= policy.matmul_grad_max_px)
    if not (subpixel or matmul_grad or use_winograd):
        return op(x, weight, bias, 2, 1)
    if autocast:
        x, weight = x.to(dtype), weight.to(dtype)
        bias = None if bias is None else bias.to(dtype)
    with torch.autocast("cpu", enabled=False):
        if use_winograd:
            out = winograd.winograd_stride2(x, weight, transposed)
            return out if bias is None else out + bias.view(1, -1, 1, 1)
        if needs_grad:
            return _Stride2Conv4x4.apply(x, weight, bias, transposed, subpixel, matmul_grad)
        return _forward(x, weight, bias, transposed, subpixel)


def _is_stride2_4x4(layer: nn.Module) -> bool:
    return (layer.kernel_size, layer.stride, layer.padding, layer.dilation, layer.groups, layer.padding_mode) == (
        (4, 4), (2, 2), (1, 1), (1, 1), 1, "zeros")


class Stride2Conv2d(Accelerated, nn.Conv2d):
    """nn.Conv2d(c_in, c_out, 4, 2, 1) through stride2_conv4x4."""

    matmul_grad = True  # whether this layer may take the matmul weight gradient (accelerate: not the image layers)

    @classmethod
    def fits(cls, plain: nn.Module) -> bool:
        return super().fits(plain) and _is_stride2_4x4(plain)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return stride2_conv4x4(x, self.weight, self.bias, self.policy, matmul_grad=self.matmul_grad)


class Stride2ConvTranspose2d(Accelerated, nn.ConvTranspose2d):
    """nn.ConvTranspose2d(c_in, c_out, 4, 2, 1) through stride2_conv4x4."""

    matmul_grad = True  # as Stride2Conv2d's

    @classmethod
    def fits(cls, plain: nn.Module) -> bool:
        return super().fits(plain) and _is_stride2_4x4(plain) and plain.output_padding == (0, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return stride2_conv4x4(x, self.weight, self.bias, self.policy, transposed=True, matmul_grad=self.matmul_grad)
