"""Building blocks shared by the architectures: minibatch std, packing, spectral norm, and nearest upscaling +
conv computed as one transposed conv."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.models.stride2 import stride2_conv4x4


class MinibatchStd(nn.Module):
    """Appends one feature: the average standard deviation across groups of samples (ProGAN).

    A collapsed G produces batches with tiny spread; this feature lets D see that directly."""

    def __init__(self, group_size: int = 4) -> None:
        super().__init__()
        self.group_size = group_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, ...) -> (B, C + 1, ...)
        batch = x.shape[0]
        group = min(self.group_size, batch)
        while batch % group:
            group -= 1
        y = x.float().reshape(group, -1, *x.shape[1:])  # (G, B/G, C, ...): member i of group m is sample i*B/G + m
        y = (y - y.mean(0)).pow(2).mean(0).add(1e-8).sqrt()  # (B/G, C, ...)
        y = y.flatten(1).mean(1).repeat(group).to(x.dtype)  # (B,)
        extra = y.view(batch, 1, *([1] * (x.ndim - 2))).expand(batch, 1, *x.shape[2:])
        return torch.cat([x, extra], 1)


def pack(x: torch.Tensor, m: int) -> torch.Tensor:
    """PacGAN: m consecutive samples become one D input, concatenated along channels.

    (B, C, H, W) -> (B/m, m*C, H, W); (B, F) -> (B/m, m*F)."""
    if m == 1:
        return x
    if x.shape[0] % m:
        raise ValueError(f"batch of {x.shape[0]} cannot be packed in groups of {m}")
    return x.reshape(x.shape[0] // m, m * x.shape[1], *x.shape[2:])


def apply_spectral_norm(module: nn.Module) -> nn.Module:
    """Divide every conv / linear weight of `module` by its largest singular value (Miyato et al. 2018).

    Bounds each layer's Lipschitz constant by about 1, which keeps D's gradients to G well behaved."""
    for child in list(module.modules()):
        if isinstance(child, (nn.Conv2d, nn.Linear, nn.ConvTranspose2d)):
            nn.utils.parametrizations.spectral_norm(child)
    return module


# Nearest x2 then a 3x3 conv is a transposed conv (4x4 kernel, stride 2, padding 1) with a folded kernel. Output row
# 2i sees small-map rows (i-1, i, i) through kernel rows (0, 1, 2), and row 2i+1 sees (i, i, i+1); a transposed
# conv's output row 2i reads input row i-1 through its kernel row 3 and row i through row 1, and output row 2i+1
# reads row i through row 2 and row i+1 through row 0. So its rows 0..3 are: w2, w1 + w2, w0 + w1, w0.
_FOLD_ROWS = torch.tensor([[0.0, 0, 1], [0, 1, 1], [1, 1, 0], [1, 0, 0]])


def nearest_conv(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                 matmul_grad: bool = False) -> torch.Tensor:
    """conv2d(2x nearest upscale of x, weight (3x3), bias, padding=1), computed on x as one transposed conv
    (models/stride2.py: with few output channels as a 3x3 conv + pixel shuffle; `matmul_grad`: its weight gradient
    as one matrix product)."""
    return stride2_conv4x4(x, fold_nearest(weight), bias, transposed=True, matmul_grad=matmul_grad)


def fold_nearest(weight: torch.Tensor) -> torch.Tensor:
    """A (C_out, C_in, 3, 3) kernel meant for the 2x nearest-upscaled map -> the (C_in, C_out, 4, 4) kernel of
    the stride-2 transposed conv on the small map that computes the same output."""
    rows = _FOLD_ROWS.to(weight)
    return torch.einsum("kh,lw,oihw->iokl", rows, rows, weight)


class NearestConv(nn.Conv2d):
    """A 3x3 conv of the 2x nearest-upscaled input, computed on the input itself as the equivalent transposed
    conv (nearest_conv): the same result as nn.Upsample + this conv (to float rounding) and the same
    parameters, with 16 multiply-adds per input pixel instead of 36, without the upscaled copy of the input
    (4x its size), and on oneDNN's fast transposed-conv kernels (speed: see dcgan.FOLD_NEAREST). FastGAN's up-blocks
    use it too, and MSG-GAN's / progressive growing's the same fold (scaled.UpscaledEqualConv2d)."""

    def __init__(self, c_in: int, c_out: int, matmul_grad: bool = False) -> None:
        super().__init__(c_in, c_out, 3, 1, 1, bias=False)
        self.matmul_grad = matmul_grad  # the weight gradient as one matrix product (models/stride2.py)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nearest_conv(x, self.weight, self.bias, self.matmul_grad)


class WholeInputConv(nn.Conv2d):
    """A conv whose kernel covers its whole input (D's heads: a 4x4 map -> one value per channel), computed as the
    identical linear layer over the flattened map. Why: oneDNN ran these tiny-output convs (and their backward)
    several times slower than the matmul they are (benchmarks/upsample.py --training-step); the parameters and
    checkpoint keys stay a conv's."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[-2:]) != self.kernel_size or (self.padding, self.dilation, self.groups) != ((0, 0), (1, 1), 1):
            return super().forward(x)
        # (B, H, W, C) order: a view of a channels_last map and kernel (a copy of contiguous ones; same sum)
        out = F.linear(x.permute(0, 2, 3, 1).flatten(1), self.weight.permute(0, 2, 3, 1).flatten(1), self.bias)
        return out.view(x.shape[0], -1, 1, 1)


class LatentStem(nn.ConvTranspose2d):
    """The generator's first layer, a transposed conv from a 1x1 latent to a small map, computed as the identical
    linear layer (see WholeInputConv for why); parameters and checkpoint keys stay a transposed conv's."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:  # (B, latent, 1, 1) -> (B, C, h, w)
        settings = (self.stride, self.padding, self.dilation, self.output_padding, self.groups)
        if tuple(z.shape[-2:]) != (1, 1) or settings != ((1, 1), (0, 0), (1, 1), (0, 0), 1):
            return super().forward(z)
        c_in, c_out, h, w = self.weight.shape
        out = z.flatten(1) @ self.weight.permute(0, 2, 3, 1).reshape(c_in, h * w * c_out)  # (B, h*w*C), HWC order
        if self.bias is not None:
            out = out + self.bias.repeat(h * w)
        out = out.view(-1, h, w, c_out).permute(0, 3, 1, 2)  # channels_last strides
        return out if self.weight.is_contiguous(memory_format=torch.channels_last) else out.contiguous()
