"""The layers of the style-based generator (models/stylegan.py), in plain torch: no custom CUDA or C++ ops.

- equalised learning rate: weights drawn N(0, 1) / lr_mult and scaled by gain * lr_mult / sqrt(fan_in) at run
  time, so Adam moves every layer at the same relative speed (lr_mult slows the mapping network, as StyleGAN's 0.01);
- the modulated 3x3 convolution with weight demodulation (StyleGAN2): each sample's style scales the conv's input
  channels, then each output channel is divided by the norm its modulated weights would have. Two exact forms of
  the same function: `fused` (one grouped conv over per-sample weights) and the default, which scales activations
  around one shared conv: the same arithmetic, no batch-sized weight tensor, and an ONNX graph whose batch size
  stays free (a grouped conv's group count is fixed when exported);
- per-pixel noise with a learned strength per layer: fresh noise while training, a fixed map in eval mode, so
  samples, exports and projections are deterministic.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

LEAK = 0.2
ACT_GAIN = math.sqrt(2.0)  # StyleGAN's gain after a leaky ReLU


class StyleLinear(nn.Module):
    """A dense layer with the equalised learning rate and an optional learning-rate multiplier."""

    def __init__(self, f_in: int, f_out: int, lr_mult: float = 1.0, bias_init: float = 0.0,
                 activate: bool = False) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(f_out, f_in) / lr_mult)
        self.bias = nn.Parameter(torch.full((f_out,), float(bias_init) / lr_mult))
        self.scale, self.lr_mult, self.activate = lr_mult / math.sqrt(f_in), lr_mult, activate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.linear(x, self.weight * self.scale, self.bias * self.lr_mult)
        return F.leaky_relu(out, LEAK) * ACT_GAIN if self.activate else out


class StyleConv2d(nn.Module):
    """A plain conv with the equalised learning rate (the discriminator's layers); `activate`: leaky ReLU."""

    def __init__(self, c_in: int, c_out: int, kernel: int, bias: bool = True, activate: bool = True) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(c_out, c_in, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(c_out)) if bias else None
        self.scale, self.padding, self.activate = 1 / math.sqrt(c_in * kernel * kernel), kernel // 2, activate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)
        return F.leaky_relu(out, LEAK) * ACT_GAIN if self.activate else out


def modulated_conv(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, demodulate: bool = True,
                   fused: bool = False) -> torch.Tensor:
    """x (B, I, H, W) through `weight` (O, I, k, k) modulated by `styles` (B, I), demodulated per sample."""
    batch, c_in = styles.shape
    c_out, kernel = weight.shape[0], weight.shape[-1]
    padding = kernel // 2
    if fused:  # one grouped conv: each sample's modulated weights are a group of their own
        w = weight.unsqueeze(0) * styles.view(batch, 1, c_in, 1, 1)  # (B, O, I, k, k)
        if demodulate:
            w = w * torch.rsqrt(w.square().sum(dim=(2, 3, 4), keepdim=True) + 1e-8)
        out = F.conv2d(x.reshape(1, batch * c_in, *x.shape[2:]), w.reshape(batch * c_out, c_in, kernel, kernel),
                       padding=padding, groups=batch)
        return out.reshape(batch, c_out, *out.shape[2:])
    out = F.conv2d(x * styles.view(batch, c_in, 1, 1), weight, padding=padding)
    if demodulate:  # |w_oi s_i|^2 summed over i and the kernel, as a (B, I) x (I, O) product
        norms = styles.square() @ weight.square().sum(dim=(2, 3)).t()
        out = out * torch.rsqrt(norms + 1e-8).view(batch, c_out, 1, 1)
    return out


class ModulatedConv(nn.Module):
    """A style-modulated, demodulated conv: w -> per-channel style (affine, bias 1), then `modulated_conv`."""

    def __init__(self, c_in: int, c_out: int, w_dim: int, kernel: int = 3, demodulate: bool = True) -> None:
        super().__init__()
        self.affine = StyleLinear(w_dim, c_in, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(c_out, c_in, kernel, kernel))
        self.scale, self.demodulate = 1 / math.sqrt(c_in * kernel * kernel), demodulate
        self.fused = False  # the grouped-conv form (same function); see the module's docstring

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w) * self.scale  # the equalised-lr scale folded into the styles: same product
        return modulated_conv(x, self.weight, styles, self.demodulate, self.fused)


class NoiseInput(nn.Module):
    """Adds strength x noise, one map per pixel shared by the channels: fresh in training, fixed in eval mode;
    `override` (a tensor of the map's size) replaces both, for projection's optimised noise."""

    def __init__(self, size: tuple[int, int]) -> None:
        super().__init__()
        self.strength = nn.Parameter(torch.zeros(()))
        self.register_buffer("fixed", torch.randn(1, 1, *size))
        self.override: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.override is not None:
            noise = self.override
        elif self.training:
            noise = torch.randn(x.shape[0], 1, *x.shape[2:], device=x.device, dtype=x.dtype)
        else:
            noise = self.fixed.to(x.dtype)
        return x + noise * self.strength


class StyledLayer(nn.Module):
    """(x2 bilinear up), modulated 3x3 conv, noise, bias, leaky ReLU: one layer of the synthesis network."""

    def __init__(self, c_in: int, c_out: int, w_dim: int, size: tuple[int, int], up: bool = False) -> None:
        super().__init__()
        self.up = up
        self.conv = ModulatedConv(c_in, c_out, w_dim)
        self.noise = NoiseInput(size)
        self.bias = nn.Parameter(torch.zeros(c_out))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        if self.up:
            x = upsample(x)
        x = self.noise(self.conv(x, w))
        return F.leaky_relu(x + self.bias.view(1, -1, 1, 1), LEAK) * ACT_GAIN


class ToImage(nn.Module):
    """A modulated 1x1 conv to the image's channels, not demodulated (StyleGAN2's toRGB)."""

    def __init__(self, c_in: int, channels: int, w_dim: int) -> None:
        super().__init__()
        self.conv = ModulatedConv(c_in, channels, w_dim, kernel=1, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return self.conv(x, w) + self.bias.view(1, -1, 1, 1)


def upsample(x: torch.Tensor) -> torch.Tensor:
    """x2 bilinear: a smooth upscale (StyleGAN2 uses a [1, 3, 3, 1] FIR filter, the same kernel)."""
    return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
