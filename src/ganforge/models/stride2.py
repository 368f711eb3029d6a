"""DCGAN's stride-2 4x4 convs and transposed convs (padding 1), with faster CPU formulations of the same sums.

1. The weight gradient as one matrix product (`matmul_grad`): oneDNN's weight-gradient kernel for the convs
   near the 4 px grid ran at about half its forward rate; unfolding the larger map into its 4x4 windows (a cheap
   copy) and multiplying by the smaller map's gradient was 1.35-1.9x faster between the 8 and 4 px maps and
   1.2-1.4x between the 16 and 8 px maps at batch 64 (0.8-1.3x at batch 128; benchmarks/stride2_conv.py), in bf16;
   in fp32 it ran at 0.35-0.87x (MATMUL_GRAD_DTYPES), so fp32 keeps oneDNN's.
2. A transposed conv with few output channels (G's last layer, 1 or 3; also the input gradient of D's first
   conv, which is that transposed conv) as a 3x3 conv to 4x the channels + pixel shuffle: each output phase (the
   position in a 2x2 block) reads a 2x2 window of the input, and the 3x3 kernel holds all four phases. oneDNN ran
   the few-output transposed conv at a tenth of its usual rate; the 3x3 conv, though 2.25x the multiply-adds,
   finished 1.6-2.2x sooner in bf16 and 1.3-1.95x in fp32 (benchmarks/stride2_conv.py [--precision fp32]).
3. Wide layers near the 4 px grid by Winograd's F(2x2, 2x2) in bf16 (models/winograd.py; WINOGRAD_* below).

Parameters and results are exactly a conv's (to float rounding). Used on CPU when autograd or (2) has something
to gain; CUDA, tracing and export see the plain op.
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.models import winograd
from ganforge.models.flags import overridden

# The matmul weight gradient runs for tensors of these dtypes: in bf16 the matrix product beat oneDNN's kernel; in
# fp32 it ran at 0.35-0.87x (benchmarks/stride2_conv.py --precision fp32), oneDNN's fp32 kernel being near its forward
# rate
MATMUL_GRAD_DTYPES: tuple[torch.dtype, ...] = (torch.bfloat16,)
# A transposed conv with at most this many output channels runs as a 3x3 conv + pixel shuffle (False: never; for
# benchmarks and tests)
SUBPIXEL_FEW_OUTPUTS = True
FEW_OUTPUTS = 4
# Maps of at most WINOGRAD_MAX_PX (the larger side of the layer), both channel counts at least WINOGRAD_MIN_CHANNELS,
# in these dtypes: forward and both gradients by Winograd's F(2x2, 2x2) (models/winograd.py), which supersedes the
# matmul weight gradient there. Larger maps: the transforms' memory traffic ate the gain (benchmarks/stride2_conv.py).
# Fewer channels: on the digits recipe (48-192 channels) it gained 1.06x a step, but its five seeds read 89.5% on
# average against 91.0% with the previous form (bf16 Winograd rounds 2.3-2.8x more; docs/speed.md), so narrow models
# keep the previous form; on DCGAN-64's 128-512 channel layers eight paired seeds read the same KID within noise
# (benchmarks/winograd_quality.py)
WINOGRAD_DTYPES: tuple[torch.dtype, ...] = (torch.bfloat16,)
WINOGRAD_MAX_PX = 16
WINOGRAD_MIN_CHANNELS = 128


def run_forms(**flags: object) -> contextlib.AbstractContextManager[None]:
    """Run with some of the flags above changed (e.g. WINOGRAD_DTYPES=() for the previous form), restored afterwards:
    they are read at call time, so this switches the forms of models already built."""
    return overridden(globals(), {"MATMUL_GRAD_DTYPES", "SUBPIXEL_FEW_OUTPUTS", "FEW_OUTPUTS", "WINOGRAD_DTYPES",
                                  "WINOGRAD_MAX_PX", "WINOGRAD_MIN_CHANNELS"}, flags, "stride2 run-time")


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


def conv_transpose_s2(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """F.conv_transpose2d(x, weight, stride 2, padding 1), as a 3x3 conv + pixel shuffle when it has few
    output channels; in x's memory format."""
    if SUBPIXEL_FEW_OUTPUTS and weight.shape[1] <= FEW_OUTPUTS:
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


def _forward(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, transposed: bool) -> torch.Tensor:
    if not transposed:
        return F.conv2d(x, weight, bias, 2, 1)
    out = conv_transpose_s2(x, weight)
    return out if bias is None else out + bias.view(1, -1, 1, 1)


class _Stride2Conv4x4(torch.autograd.Function):
    """conv2d(x, w, b, stride 2, padding 1) or conv_transpose2d(x, w, b, stride 2, padding 1), 4x4 kernel."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, transposed: bool,
                matmul_grad: bool) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        ctx.transposed, ctx.matmul_grad = transposed, matmul_grad
        return _forward(x, weight, bias, transposed)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x, weight = ctx.saved_tensors
        grad = _in_format_of(grad, x)
        needs_x, needs_w, needs_b = ctx.needs_input_grad[:3]
        grad_x = grad_w = grad_b = None
        if needs_x:  # the adjoint: a transposed conv undoes a conv's shape and vice versa (in x's memory format:
            # with one channel both formats fit, and oneDNN picks by the kernel's)
            grad_x = F.conv2d(grad, weight, None, 2, 1) if ctx.transposed else conv_transpose_s2(grad, weight)
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
        return grad_x, grad_w, grad_b, None, None


def _winograd_applies(x: torch.Tensor, weight: torch.Tensor, transposed: bool, dtype: torch.dtype) -> bool:
    big_px = max(x.shape[-2:]) * (2 if transposed else 1)
    return (dtype in WINOGRAD_DTYPES and x.dtype in (dtype, torch.float32) and big_px <= WINOGRAD_MAX_PX
            and min(weight.shape[:2]) >= WINOGRAD_MIN_CHANNELS and winograd.applies(x, transposed))


def stride2_conv4x4(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                    transposed: bool = False, matmul_grad: bool = False) -> torch.Tensor:
    """F.conv2d / F.conv_transpose2d (stride 2, padding 1) of a 4x4 kernel, through the fast forms above where
    they apply (autocast's casts done first, as autocast would, so gradients flow back to fp32 master weights)."""
    op = F.conv_transpose2d if transposed else F.conv2d
    tracing = torch.jit.is_tracing() or torch.compiler.is_compiling()  # exports see the plain op
    if x.device.type != "cpu" or tracing or (not transposed and (x.shape[-2] % 2 or x.shape[-1] % 2)):
        return op(x, weight, bias, 2, 1)  # (an odd-sized input: the transposed adjoint would miss a row)
    few_outputs = SUBPIXEL_FEW_OUTPUTS and weight.shape[1] <= FEW_OUTPUTS  # forward (transposed) or input grad
    needs_grad = torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in (x, weight, bias))
    autocast = torch.is_autocast_enabled("cpu")
    dtype = torch.get_autocast_dtype("cpu") if autocast else x.dtype
    use_winograd = _winograd_applies(x, weight, transposed, dtype)
    matmul_grad = matmul_grad and needs_grad and dtype in MATMUL_GRAD_DTYPES
    if not (few_outputs or matmul_grad or use_winograd):
        return op(x, weight, bias, 2, 1)
    if autocast:
        x, weight = x.to(dtype), weight.to(dtype)
        bias = None if bias is None else bias.to(dtype)
    with torch.autocast("cpu", enabled=False):
        if use_winograd:
            out = winograd.winograd_stride2(x, weight, transposed)
            return out if bias is None else out + bias.view(1, -1, 1, 1)
        if needs_grad:
            return _Stride2Conv4x4.apply(x, weight, bias, transposed, matmul_grad)
        return _forward(x, weight, bias, transposed)


class Stride2Conv2d(nn.Conv2d):
    """nn.Conv2d(c_in, c_out, 4, 2, 1) through stride2_conv4x4 (see the module docstring)."""

    def __init__(self, c_in: int, c_out: int, bias: bool = True, matmul_grad: bool = False) -> None:
        super().__init__(c_in, c_out, 4, 2, 1, bias=bias)
        self.matmul_grad = matmul_grad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return stride2_conv4x4(x, self.weight, self.bias, matmul_grad=self.matmul_grad)


class Stride2ConvTranspose2d(nn.ConvTranspose2d):
    """nn.ConvTranspose2d(c_in, c_out, 4, 2, 1) through stride2_conv4x4 (see the module docstring)."""

    def __init__(self, c_in: int, c_out: int, bias: bool = True, matmul_grad: bool = False) -> None:
        super().__init__(c_in, c_out, 4, 2, 1, bias=bias)
        self.matmul_grad = matmul_grad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return stride2_conv4x4(x, self.weight, self.bias, transposed=True, matmul_grad=self.matmul_grad)
