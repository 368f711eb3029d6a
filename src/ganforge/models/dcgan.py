"""DCGAN (Radford et al. 2016) for any power-of-two resolution from 16 to 256 and 1 or 3 channels.

G: latent z -> (width_at_4px, 4, 4) -> [upsample x2 + BN + ReLU] * log2(R/4) -> tanh image.
D: image -> [strided conv + (BN) + LeakyReLU(0.2)] down to 4x4 -> one logit.
Non-square (aspect.py): the 4x4 grid becomes e.g. 4x8 for 2:1, and the first / last kernels follow it.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.aspect import base_grid
from ganforge.models import MODELS
from ganforge.models.layers import MinibatchStd


def _widths(resolution: int, base: int, cap_multiplier: int = 8) -> list[int]:
    """Channel widths at 4, 8, ..., resolution/2 px: base*2^k doubling towards low resolution, capped."""
    steps = int(math.log2(resolution // 4))
    return [base * min(2 ** (steps - 1 - i), cap_multiplier) for i in range(steps)]


def dcgan_init(module: nn.Module) -> None:
    """DCGAN init: conv weights N(0, 0.02); batch-norm scale N(1, 0.02), shift 0."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


UPSAMPLE_MODES = ("transpose", "nearest", "subpixel")


# NearestConv from this input size up (every DCGAN block); benchmarks/upsample.py, one thread, bf16, batch 64:
# 1.03-1.14x for 4 px inputs, 1.49-1.56x for 8 px, 5.3-5.8x for the digits G's last block, 8.7x for an RGB one's
FOLD_FROM = 4


def _upsample_block(c_in: int, c_out: int, mode: str, size: int = FOLD_FROM) -> list[nn.Module]:
    """Layers that double the resolution of a (B, c_in, size, size) map; `size` picks the faster form."""
    if mode == "transpose":
        return [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False)]
    if mode == "subpixel":  # Shi et al. 2016: a conv at the low resolution makes the 4 pixels of each 2x2 block
        return [SubpixelConv(c_in, c_out), nn.PixelShuffle(2)]
    # nearest-neighbour upscaling + conv: the usual cure for checkerboard artefacts. Both forms are the same
    # function with the same parameters; nn.Identity holds the Upsample's place so checkpoints keep their keys.
    if size >= FOLD_FROM:
        return [nn.Identity(), NearestConv(c_in, c_out)]
    return [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c_in, c_out, 3, 1, 1, bias=False)]


# Nearest x2 then a 3x3 conv: output row 2i+a sees small-map rows i-1, i, i, i+1 through kernel rows 0, 1, 2
# (a = 0: rows i-1, i, i; a = 1: rows i, i, i+1). So each output phase a is a 2-tap conv on the small map: taps
# (i-1, i) for a = 0, (i, i+1) for a = 1, each tap the sum of the kernel rows that land on it.
_PHASE_TAPS = torch.tensor([[[1.0, 0, 0], [0, 1, 1]],  # phase 0: tap 0 = kernel row 0, tap 1 = rows 1 + 2
                            [[1.0, 1, 0], [0, 0, 1]]])  # phase 1: tap 0 = rows 0 + 1, tap 1 = row 2


_PHASE_FOLD: dict[tuple[torch.dtype, torch.device], torch.Tensor] = {}


def fold_nearest(weight: torch.Tensor) -> torch.Tensor:
    """A 3x3 kernel meant for the 2x nearest-upscaled map -> the (4*C_out, C_in, 2, 2) kernel of its four
    output phases on the small map; channel order (row phase, column phase, c). One small matrix product."""
    key = (weight.dtype, weight.device)
    if key not in _PHASE_FOLD:  # (9 kernel taps) -> (row phase, tap, column phase, tap)
        _PHASE_FOLD[key] = torch.einsum("aph,bqw->hwapbq", _PHASE_TAPS, _PHASE_TAPS).reshape(9, 16).to(weight)
    c_out, c_in = weight.shape[:2]
    phases = (weight.reshape(c_out * c_in, 9) @ _PHASE_FOLD[key]).view(c_out, c_in, 2, 2, 2, 2)
    return phases.permute(2, 4, 0, 1, 3, 5).reshape(4 * c_out, c_in, 2, 2)


def _phase_windows(y: torch.Tensor) -> list[tuple[int, int, torch.Tensor]]:
    """The four phase maps (a, b, view) of a (B, 4*C, H+1, W+1) phase-conv output, each (B, C, H, W): phase
    (a, b) at small pixel (i, j) sits at (i+a, j+b), as row phase 0 reads rows (i-1, i) and phase 1 (i, i+1)."""
    batch, c4, h1, w1 = y.shape
    y = y.view(batch, 2, 2, c4 // 4, h1, w1)
    return [(a, b, y[:, a, b, :, a:a + h1 - 1, b:b + w1 - 1]) for a in (0, 1) for b in (0, 1)]


def _memory_format(y: torch.Tensor) -> torch.memory_format:
    return torch.channels_last if y.stride(1) == 1 else torch.contiguous_format  # a conv output: one or other


def _interleave(y: torch.Tensor) -> torch.Tensor:
    """(B, 4*C, H+1, W+1) phase maps -> the (B, C, 2H, 2W) image they tile, in the input's memory format."""
    batch, c4, h1, w1 = y.shape
    out = torch.empty((batch, c4 // 4, 2 * (h1 - 1), 2 * (w1 - 1)), dtype=y.dtype, device=y.device,
                      memory_format=_memory_format(y))
    for a, b, window in _phase_windows(y):
        out[:, :, a::2, b::2] = window
    return out


def _deinterleave(grad: torch.Tensor, shape: torch.Size, memory_format: torch.memory_format) -> torch.Tensor:
    """The adjoint of _interleave: each output pixel's value back to its phase map; zero where none came."""
    y = torch.empty(shape, dtype=grad.dtype, device=grad.device, memory_format=memory_format).zero_()
    for a, b, window in _phase_windows(y):
        window.copy_(grad[:, :, a::2, b::2])
    return y


class _Interleave(torch.autograd.Function):
    """_interleave with its adjoint as the gradient: two strided copies per pass, instead of the zero-filled
    full-size gradient per phase that autograd builds for four slices of one tensor."""

    @staticmethod
    def forward(ctx, y: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.shape, ctx.format = y.shape, _memory_format(y)
        return _interleave(y)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return _Deinterleave.apply(grad, ctx.shape, ctx.format)


class _Deinterleave(torch.autograd.Function):
    @staticmethod
    def forward(ctx, grad: torch.Tensor, shape: torch.Size, memory_format: torch.memory_format
                ) -> torch.Tensor:  # type: ignore[override]
        return _deinterleave(grad, shape, memory_format)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:  # type: ignore[override]
        return _Interleave.apply(grad), None, None


def interleave_phases(y: torch.Tensor) -> torch.Tensor:
    """(B, 4*C, H+1, W+1) phase maps of a 2x2 conv over the 1-padded small map -> the (B, C, 2H, 2W) output,
    in the input's memory format (channels_last in training)."""
    if y.requires_grad and not (torch.jit.is_tracing() or torch.compiler.is_compiling()):
        return _Interleave.apply(y)
    return _interleave(y)  # no gradient needed, or an exporter tracing plain tensor operations


class NearestConv(nn.Conv2d):
    """A 3x3 conv of the 2x nearest-upscaled input, computed on the input itself: each 2x2 block of the output
    sees only 2x2 input pixels, so one 2x2 conv to 4x the channels (the folded kernel, fold_nearest) gives all
    four phases, which interleave_phases puts in place. The same result as nn.Upsample + this conv (to float
    rounding) and the same parameters, with 16 multiply-adds per input pixel instead of 36 and without the
    upscaled copy of the input, which is 4x its size (speed: see FOLD_FROM). FastGAN's blocks could use it too,
    but its 64 px step gained 1.3% with an earlier form of it (7.08 -> 6.99 s): not worth it."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__(c_in, c_out, 3, 1, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = None if self.bias is None else self.bias.repeat(4)
        return interleave_phases(F.conv2d(x, fold_nearest(self.weight), bias, padding=1))


class SubpixelConv(nn.Conv2d):
    """3x3 conv to 4x the channels at the input's resolution, for nn.PixelShuffle(2).

    Why: the same FLOPs as nearest upscaling + conv, but no upscaled copy of the input, and a last
    layer with 4 output channels instead of 1, which oneDNN ran ~4x faster (benchmarks/upsample.py).
    Initialised ICNR-style (Aitken et al. 2017): the 4 phases of each output channel start equal, so the
    block starts as nearest-neighbour upscaling of one conv and has no checkerboard at the start."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__(c_in, 4 * c_out, 3, 1, 1, bias=False)

    def reset_phases(self) -> None:
        with torch.no_grad():
            self.weight.copy_(self.weight[::4].repeat_interleave(4, dim=0))


class DCGANGenerator(nn.Module):
    def __init__(
        self, resolution: int = 64, channels: int = 3, latent_dim: int = 100, width: int = 64,
        upsample: str = "transpose", aspect: str = "1:1", latent_classes: int = 0,
    ) -> None:
        super().__init__()
        if upsample not in UPSAMPLE_MODES:
            raise ValueError(f"upsample must be one of {UPSAMPLE_MODES}, got {upsample!r}")
        self.latent_dim = latent_dim
        self.latent_classes = latent_classes
        widths = _widths(resolution, width)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(latent_dim, widths[0], base_grid(aspect), 1, 0, bias=False),  # -> (B, w0, 4, 4)
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(True),
        ]
        size = min(base_grid(aspect))  # the shorter side of the feature map each block doubles
        for c_in, c_out in zip(widths[:-1], widths[1:]):
            layers += [*_upsample_block(c_in, c_out, upsample, size), nn.BatchNorm2d(c_out), nn.ReLU(True)]
            size *= 2
        layers += [*_upsample_block(widths[-1], channels, upsample, size), nn.Tanh()]  # -> (B, C, R, R)
        self.net = nn.Sequential(*layers)
        self.apply(dcgan_init)
        for module in self.modules():
            if isinstance(module, SubpixelConv):
                module.reset_phases()

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(latent_code_input(z, self.latent_classes).view(z.shape[0], self.latent_dim, 1, 1))


def latent_category(z: torch.Tensor, classes: int) -> torch.Tensor:
    """InfoGAN's categorical code, read from a plain Gaussian latent: the argmax of its first `classes`
    dims (uniform over the categories), so every sampler, interpolation and export keeps drawing N(0, I)."""
    return z[:, :classes].argmax(1)


def with_category(z: torch.Tensor, categories: torch.Tensor, classes: int) -> torch.Tensor:
    """z whose latent category (the argmax of its first `classes` dims) is `categories`; the rest unchanged."""
    z = z.clone()
    z[torch.arange(len(z)), categories] = z[:, :classes].abs().amax(1) + 1
    return z


def latent_code_input(z: torch.Tensor, classes: int) -> torch.Tensor:
    """z with its first `classes` dims replaced by the one-hot category (unchanged when classes is 0)."""
    if not classes:
        return z
    head = z[:, :classes]
    one_hot = (head == head.amax(1, keepdim=True)).to(z.dtype)  # comparison, not F.one_hot: exports to ONNX
    return torch.cat([one_hot, z[:, classes:]], 1)


class DCGANDiscriminator(nn.Module):
    def __init__(self, resolution: int = 64, channels: int = 3, width: int = 64, batchnorm: bool = True,
                 minibatch_std: bool = False, aspect: str = "1:1", latent_classes: int = 0) -> None:
        super().__init__()
        widths = _widths(resolution, width)[::-1]  # resolution/2 px first
        layers: list[nn.Module] = [nn.Conv2d(channels, widths[0], 4, 2, 1), nn.LeakyReLU(0.2, True)]
        for c_in, c_out in zip(widths[:-1], widths[1:]):
            layers += [nn.Conv2d(c_in, c_out, 4, 2, 1, bias=not batchnorm)]
            if batchnorm:
                layers.append(nn.BatchNorm2d(c_out))
            layers.append(nn.LeakyReLU(0.2, True))
        self.features = nn.Sequential(*layers)  # -> (B, w, 4, 4)
        self.mbstd = MinibatchStd() if minibatch_std else nn.Identity()  # -> (B, w + 1, 4, 4) when on
        self.head = nn.Conv2d(widths[-1] + int(minibatch_std), 1, base_grid(aspect), 1, 0)  # -> (B, 1, 1, 1)
        # InfoGAN's Q: which latent category made this image (shares D's features; only with latent_classes)
        self.code_head = nn.Conv2d(widths[-1], latent_classes, base_grid(aspect), 1, 0) if latent_classes else None
        self.apply(dcgan_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.mbstd(self.features(x))).flatten()  # (B,) logits

    def forward_with_codes(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(real/fake logits (B,), category logits (B, latent_classes)) from one pass through the features."""
        h = self.features(x)
        return self.head(self.mbstd(h)).flatten(), self.code_head(h).flatten(1)


@MODELS.register("dcgan")
def build_dcgan(
    resolution: int = 64, channels: int = 3, latent_dim: int = 100, g_width: int = 64, d_width: int = 64,
    d_batchnorm: bool = True, upsample: str = "transpose", minibatch_std: bool = False, pack: int = 1,
    aspect: str = "1:1", latent_classes: int = 0,
) -> tuple[nn.Module, nn.Module]:
    G = DCGANGenerator(resolution, channels, latent_dim, g_width, upsample, aspect, latent_classes)
    D = DCGANDiscriminator(resolution, channels * pack, d_width, d_batchnorm, minibatch_std, aspect,  # pack: PacGAN
                           latent_classes)
    return G, D
