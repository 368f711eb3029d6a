"""A style-based generator (StyleGAN2's "skip" G) and a residual D, small enough to train on a CPU.

G: z -> mapping network (normalised z, `mapping_layers` dense layers at 1/100 the learning rate) -> w; w is
broadcast to one copy per layer ("w+", (B, num_ws, w_dim)), and the synthesis network draws the image from a
learned constant through modulated, demodulated 3x3 convs (two per resolution, noise after each), adding every
resolution's toRGB output to the upscaled sum of the ones before it. In training G keeps the running mean of w
(`w_avg`), the centre of the truncation trick. D: a 1x1 fromRGB, one residual block per resolution (two 3x3
convs, the second after 2x2 average pooling, beside a pooled 1x1 skip, summed / sqrt(2)), minibatch std, a 3x3
conv and two dense layers. Every layer has the equalised learning rate (models/stylegan_layers.py).

Simplified from StyleGAN2, and why: bilinear resampling instead of its FIR up/down filters (same [1, 3, 3, 1]
kernel up, 2x2 box down); tanh on G's output so images stay in [-1, 1] like every other model's; narrow widths
(`g_width`, `d_width` at full size, doubling towards 4 px up to WIDTH_CAP x) so a 64 px CPU step is a few DCGAN steps.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.aspect import base_grid
from ganforge.models.layers import MinibatchStd
from ganforge.models.registry import register
from ganforge.models.scaled import grid_sizes, scale_widths
from ganforge.models.spec import ModelSpec
from ganforge.models.stylegan_layers import StyleConv2d, StyledLayer, StyleLinear, ToImage, upsample

WIDTH_CAP = 8  # the 4 px stage is at most 8x as wide as the full-size one
MAPPING_LR = 0.01  # StyleGAN's learning-rate multiplier of the mapping network
W_AVG_BETA = 0.995  # the running mean of w moves this slowly (StyleGAN2-ADA's w_avg_beta)


class MappingNetwork(nn.Module):
    """z (B, z_dim) -> w (B, w_dim): z scaled to unit mean square, then dense leaky-ReLU layers."""

    def __init__(self, z_dim: int, w_dim: int, layers: int, lr_mult: float = MAPPING_LR) -> None:
        super().__init__()
        dims = [z_dim] + [w_dim] * layers
        self.layers = nn.Sequential(*(StyleLinear(a, b, lr_mult=lr_mult, activate=True)
                                      for a, b in zip(dims[:-1], dims[1:])))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.layers(z * torch.rsqrt(z.square().mean(dim=1, keepdim=True) + 1e-8))


class SynthesisNetwork(nn.Module):
    """w+ (B, num_ws, w_dim) -> image (B, C, H, W) in [-1, 1]. Layer k of the convs reads w+[:, k]; the toRGB of
    a resolution reads the w of the next conv (StyleGAN2's indexing), so num_ws = 2 x the number of resolutions."""

    def __init__(self, resolution: int, channels: int, w_dim: int, width: int, aspect: str = "1:1") -> None:
        super().__init__()
        widths = scale_widths(resolution, width, cap_multiplier=WIDTH_CAP)  # at 4, 8, ..., R px
        sizes = grid_sizes(resolution, aspect)
        self.const = nn.Parameter(torch.randn(widths[0], *sizes[0]))
        self.layers = nn.ModuleList([StyledLayer(widths[0], widths[0], w_dim, sizes[0])])
        self.to_images = nn.ModuleList([ToImage(widths[0], channels, w_dim)])
        for c_in, c_out, size in zip(widths[:-1], widths[1:], sizes[1:]):
            self.layers.extend([StyledLayer(c_in, c_out, w_dim, size, up=True), StyledLayer(c_out, c_out, w_dim, size)])
            self.to_images.append(ToImage(c_out, channels, w_dim))
        self.num_ws = len(self.layers) + 1

    def forward(self, ws: torch.Tensor) -> torch.Tensor:
        x = self.const.unsqueeze(0).expand(ws.shape[0], -1, -1, -1)
        x = self.layers[0](x, ws[:, 0])
        image = self.to_images[0](x, ws[:, 1])
        for k, to_image in enumerate(self.to_images[1:]):
            first = 2 * k + 1  # this resolution's two convs
            x = self.layers[first + 1](self.layers[first](x, ws[:, first]), ws[:, first + 1])
            image = upsample(image) + to_image(x, ws[:, first + 2])
        return torch.tanh(image)


class StyleGenerator(nn.Module):
    """z -> image, as every noise-to-image G; `mapping`, `synthesis`, `w_avg` and `ws` for the style tools
    (truncation, mixing, projection: inference/styles.py)."""

    def __init__(self, resolution: int = 64, channels: int = 3, latent_dim: int = 64, width: int = 16,
                 mapping_layers: int = 2, aspect: str = "1:1") -> None:
        super().__init__()
        self.latent_dim = self.w_dim = latent_dim
        self.mapping = MappingNetwork(latent_dim, latent_dim, mapping_layers)
        self.synthesis = SynthesisNetwork(resolution, channels, latent_dim, width, aspect)
        self.num_ws = self.synthesis.num_ws
        self.register_buffer("w_avg", torch.zeros(latent_dim))

    def map(self, z: torch.Tensor, truncation: float = 1.0) -> torch.Tensor:
        """w (B, w_dim) of z; in training mode the running mean w_avg follows it; truncation pulls it to w_avg."""
        w = self.mapping(z)
        if self.training:
            with torch.no_grad():
                self.w_avg.lerp_(w.detach().float().mean(0).to(self.w_avg.dtype), 1 - W_AVG_BETA)
        if truncation != 1.0:
            w = self.w_avg.to(w.dtype) + truncation * (w - self.w_avg.to(w.dtype))
        return w

    def ws(self, w: torch.Tensor) -> torch.Tensor:
        """w (B, w_dim) -> w+ (B, num_ws, w_dim): the same w for every layer."""
        return w.unsqueeze(1).expand(-1, self.num_ws, -1)

    def forward(self, z: torch.Tensor, mix_z: torch.Tensor | None = None, mix_from: int | None = None
                ) -> torch.Tensor:
        """Images of z; with `mix_z`, layers from `mix_from` on take mix_z's w (style mixing)."""
        ws = self.ws(self.map(z))
        if mix_z is not None and mix_from is not None:
            ws = torch.cat([ws[:, :mix_from], self.ws(self.map(mix_z))[:, mix_from:]], dim=1)
        return self.synthesis(ws)


class ResidualDown(nn.Module):
    """conv 3x3, 2x2 average pool, conv 3x3, beside a pooled 1x1 skip; the sum / sqrt(2) keeps the variance."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv1 = StyleConv2d(c_in, c_in, 3)
        self.conv2 = StyleConv2d(c_in, c_out, 3)
        self.skip = StyleConv2d(c_in, c_out, 1, bias=False, activate=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        main = self.conv2(F.avg_pool2d(self.conv1(x), 2))
        return (self.skip(F.avg_pool2d(x, 2)) + main) / math.sqrt(2)


class StyleDiscriminator(nn.Module):
    def __init__(self, resolution: int = 64, channels: int = 3, width: int = 16, aspect: str = "1:1") -> None:
        super().__init__()
        widths = scale_widths(resolution, width, cap_multiplier=WIDTH_CAP)[::-1]  # at R, R/2, ..., 4 px
        h0, w0 = base_grid(aspect)
        self.from_image = StyleConv2d(channels, widths[0], 1)
        self.blocks = nn.Sequential(*(ResidualDown(a, b) for a, b in zip(widths[:-1], widths[1:])))
        self.mbstd = MinibatchStd(group_size=4)
        self.conv = StyleConv2d(widths[-1] + 1, widths[-1], 3)
        self.dense = StyleLinear(widths[-1] * h0 * w0, widths[-1], activate=True)
        self.out = StyleLinear(widths[-1], 1)

    def feature_maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The activations after fromRGB and after each block (projection's perceptual distance reads them)."""
        maps = [self.from_image(x)]
        for block in self.blocks:
            maps.append(block(maps[-1]))
        return maps

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """What the last layer judges: (B, width) (the training doctor compares these)."""
        h = self.blocks(self.from_image(x))
        return self.dense(self.conv(self.mbstd(h)).flatten(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.features(x)).flatten()  # (B,) logits


STYLEGAN_REFUSES = ("pack", "minibatch_std", "spectral_norm", "d_batchnorm", "upsample", "loss=wgan-gp")
STYLEGAN_SUPPORTS = ("it brings its own stabilisers (minibatch std in D, lazy R1 with --r1-gamma / --r1-every, "
                     "equalised learning rate) and takes --loss, --augment, --ema-beta, --d-steps, --balance, "
                     "--mapping-layers, --style-mixing and --pl-weight")
# StyleGAN2(-ADA): Adam lr 0.0025, betas (0, 0.99), non-saturating loss; widths small for CPUs (see docs/stylegan.md)
STYLEGAN_DEFAULTS = dict(loss="nonsat", lr_g=0.0025, lr_d=0.0025, beta1=0.0, beta2=0.99, latent_dim=64,
                         g_width=16, d_width=16, ema_beta=0.999, batch_size=32)

SPEC = ModelSpec(
    name="stylegan", summary="StyleGAN2-style: mapping network, modulated convs, noise, skip G; residual D",
    recipe="stylegan", aspect=True, sections=("evaluation", "stylegan"), refuses=STYLEGAN_REFUSES,
    supports=STYLEGAN_SUPPORTS, defaults=STYLEGAN_DEFAULTS,
    own_settings=("loss", "spectral_norm", "d_batchnorm", "upsample", "minibatch_std", "pack"),
    example_args=dict(resolution=16, channels=1, latent_dim=8, g_width=4, d_width=4),
)


@register(SPEC)
def build_stylegan(resolution: int = 64, channels: int = 3, latent_dim: int = 64, g_width: int = 16,
                   d_width: int = 16, mapping_layers: int = 2, aspect: str = "1:1") -> tuple[nn.Module, nn.Module]:
    return (StyleGenerator(resolution, channels, latent_dim, g_width, mapping_layers, aspect),
            StyleDiscriminator(resolution, channels, d_width, aspect))
