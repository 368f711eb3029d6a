"""R3GAN's networks at small scale (Huang et al. 2024, "The GAN is dead; long live the GAN!").

A modernised, normalisation-free ResNet for both players, trained by recipes/r3gan.py with the RpGAN loss
and the zero-centred R1 + R2 penalties:
- each stage is a stack of ConvNeXt-style bottleneck blocks: 1x1 conv (x2 channels), leaky ReLU, grouped 3x3
  conv (16 channels per group), leaky ReLU, 1x1 conv back; the residual branch is added unscaled;
- no normalisation layers: fix-up-style init instead. Every conv draws N(0, gain / sqrt(fan_in)); inside a
  block the gain is leaky ReLU's times L^(-1/4) (L: the network's number of blocks, 3 layers per block, as the
  paper's L^(-1/(2m-2))), and each block's last conv starts at zero, so every block starts as the identity;
- biases only in front of the activations (the paper's bias-and-activation op, here the conv's own bias);
  resampling is a fixed [1, 3, 3, 1] low-pass filter (bilinear),
  with a 1x1 conv where the width changes (before upsampling in G, after downsampling in D);
- G: z (and a class embedding) -> a linear map that scales a learned 4x4 basis -> stages up to R px -> 1x1 conv;
  D mirrors it: 1x1 conv -> stages down to 4 px -> a depthwise 4x4 conv -> a linear head (class-conditional:
  an embedding-sized head projected on the class's embedding).
Simplified from the paper's code: no mapping network (it has none either), and G's output goes through tanh so
images stay in [-1, 1] like every other model's (the paper's G is linear at the output).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.models.registry import register
from ganforge.models.scaled import scale_widths
from ganforge.models.spec import ModelSpec

LEAK = 0.2
ACTIVATION_GAIN = math.sqrt(2 / (1 + LEAK**2))  # keeps a leaky ReLU layer's output variance at its input's
EXPANSION = 2  # a block's inner width, in multiples of its stage's width (the paper's ExpansionFactor)
GROUP_SIZE = 16  # channels per group of the grouped 3x3 conv (the paper's presets: 2 * width / cardinality = 16)
BLOCKS_PER_STAGE = 1  # the paper's presets have 2; one keeps a CPU step near DCGAN's (R1 + R2 double D's cost)
WIDTH_CAP = 4  # the 4 and 8 px stages are 4x as wide as the full-size one


def msr_init(layer: nn.Conv2d | nn.Linear, gain: float = 1.0) -> nn.Module:
    """Weights N(0, gain / sqrt(fan_in)): a layer keeps its input's variance (times gain^2); gain 0: zeros."""
    fan_in = layer.weight[0].numel()
    with torch.no_grad():
        layer.weight.normal_(0, gain / math.sqrt(fan_in))
    return layer


def conv(c_in: int, c_out: int, kernel: int = 1, groups: int = 1, gain: float = 1.0, bias: bool = False) -> nn.Conv2d:
    """A conv with 'same' padding, MSR-initialised; a bias (zero at start) only where an activation follows."""
    layer = nn.Conv2d(c_in, c_out, kernel, padding=(kernel - 1) // 2, groups=groups, bias=bias)
    if bias:
        nn.init.zeros_(layer.bias)
    return msr_init(layer, gain)


def groups_for(channels: int) -> int:
    """The cardinality that gives groups of GROUP_SIZE channels (one group for narrower layers)."""
    return max(1, channels // GROUP_SIZE) if channels % GROUP_SIZE == 0 else 1


class ResidualBlock(nn.Module):
    """x + conv1x1(act(grouped conv3x3(act(conv1x1(x))))); starts as the identity (last conv zero)."""

    def __init__(self, channels: int, total_blocks: int) -> None:
        super().__init__()
        inner = channels * EXPANSION
        gain = ACTIVATION_GAIN * total_blocks ** (-1 / 4)  # fix-up scaling L^(-1/(2m-2)) with m = 3 layers
        self.expand = conv(channels, inner, gain=gain, bias=True)
        self.spatial = conv(inner, inner, 3, groups=groups_for(inner), gain=gain, bias=True)
        self.project = conv(inner, channels, gain=0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.leaky_relu(self.spatial(F.leaky_relu(self.expand(x), LEAK)), LEAK)
        return x + self.project(h)


def lowpass_kernel() -> torch.Tensor:
    """The paper's [1, 2, 1] filter convolved with [1, 1]: [1, 3, 3, 1], as a normalised 4x4 kernel."""
    taps = torch.tensor([1.0, 3.0, 3.0, 1.0])
    kernel = torch.outer(taps, taps)
    return kernel / kernel.sum()


class Resample(nn.Module):
    """x2 up (transposed) or down (strided) with the fixed low-pass kernel, each channel on its own: bilinear
    interpolation with zero padding at the borders."""

    def __init__(self, up: bool) -> None:
        super().__init__()
        self.up = up
        self.register_buffer("kernel", lowpass_kernel().view(1, 1, 4, 4), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        channels = x.shape[1]
        kernel = self.kernel.to(x.dtype).expand(channels, 1, 4, 4)
        if self.up:  # each input pixel spreads over 4x4 outputs; x4 keeps the mean (1 of 4 outputs per input)
            return F.conv_transpose2d(x, 4 * kernel, stride=2, padding=1, groups=channels)
        return F.conv2d(x, kernel, stride=2, padding=1, groups=channels)


def stage_widths(resolution: int, width: int) -> list[int]:
    """Widths at 4, 8, ..., resolution px: `width` at full size, doubling towards 4 px up to WIDTH_CAP x."""
    return scale_widths(resolution, width, cap_multiplier=WIDTH_CAP)


class GeneratorBasis(nn.Module):
    """(B, latent) -> (B, C, 4, 4): a learned 4x4 basis per channel, each scaled by a linear map of the latent."""

    def __init__(self, latent_dim: int, channels: int) -> None:
        super().__init__()
        self.basis = nn.Parameter(torch.randn(channels, 4, 4))
        self.linear = msr_init(nn.Linear(latent_dim, channels, bias=False))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.basis.unsqueeze(0) * self.linear(z).view(z.shape[0], -1, 1, 1)


class R3GANGenerator(nn.Module):
    def __init__(self, resolution: int = 32, channels: int = 3, latent_dim: int = 64, width: int = 64,
                 num_classes: int = 0, blocks_per_stage: int = BLOCKS_PER_STAGE) -> None:
        super().__init__()
        self.latent_dim, self.num_classes = latent_dim, num_classes
        widths = stage_widths(resolution, width)
        total = blocks_per_stage * len(widths)
        embed_dim = latent_dim if num_classes else 0  # the paper's ConditionEmbeddingDimension = NoiseDimension
        if num_classes:  # a linear map of the one-hot class, as an embedding table (same init: fan-in = classes)
            self.embed = nn.Embedding(num_classes, embed_dim)
            nn.init.normal_(self.embed.weight, 0, 1 / math.sqrt(num_classes))
        self.basis = GeneratorBasis(latent_dim + embed_dim, widths[0])
        stages = []
        for k, c_out in enumerate(widths):
            layers: list[nn.Module] = []
            if k:  # width change (1x1 conv) then x2 up
                c_in = widths[k - 1]
                layers += ([conv(c_in, c_out)] if c_in != c_out else []) + [Resample(up=True)]
            layers += [ResidualBlock(c_out, total) for _ in range(blocks_per_stage)]
            stages.append(nn.Sequential(*layers))
        self.stages = nn.Sequential(*stages)
        self.to_image = conv(widths[-1], channels)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.num_classes:
            z = torch.cat([z, self.embed(labels).to(z.dtype)], dim=1)
        return torch.tanh(self.to_image(self.stages(self.basis(z))))  # (B, C, R, R) in [-1, 1]


class R3GANDiscriminator(nn.Module):
    def __init__(self, resolution: int = 32, channels: int = 3, width: int = 64, num_classes: int = 0,
                 blocks_per_stage: int = BLOCKS_PER_STAGE) -> None:
        super().__init__()
        self.num_classes = num_classes
        widths = stage_widths(resolution, width)[::-1]  # at R, R/2, ..., 4 px
        total = blocks_per_stage * len(widths)
        self.from_image = conv(channels, widths[0])
        stages = []
        for k, c_in in enumerate(widths[:-1]):
            c_out = widths[k + 1]
            layers: list[nn.Module] = [ResidualBlock(c_in, total) for _ in range(blocks_per_stage)]
            layers += [Resample(up=False)] + ([conv(c_in, c_out)] if c_in != c_out else [])  # x2 down, width
            stages.append(nn.Sequential(*layers))
        stages.append(nn.Sequential(*(ResidualBlock(widths[-1], total) for _ in range(blocks_per_stage))))
        self.stages = nn.Sequential(*stages)
        self.basis = msr_init(nn.Conv2d(widths[-1], widths[-1], 4, groups=widths[-1], bias=False))  # 4x4 -> 1x1
        # unconditional: one logit; conditional: an embedding-sized vector projected on the class's embedding
        out_dim = widths[-1] if num_classes else 1
        self.head = msr_init(nn.Linear(widths[-1], out_dim, bias=False))
        if num_classes:
            self.embed = nn.Embedding(num_classes, out_dim)
            nn.init.normal_(self.embed.weight, 0, 1 / math.sqrt(out_dim) / math.sqrt(num_classes))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """What the head judges: (B, w) after the 4x4 basis (the training doctor compares these)."""
        return self.basis(self.stages(self.from_image(x))).flatten(1)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = self.head(self.features(x))
        if self.num_classes:
            return (h * self.embed(labels).to(h.dtype)).sum(1)  # (B,) projection logits
        return h.flatten()  # (B,) logits


R3GAN_REFUSES = ("pack", "minibatch_std", "spectral_norm", "d_batchnorm", "upsample", "r1_gamma", "label_smoothing",
                 "lr_decay_start", "loss=wgan-gp", "balance=skip", "balance=adaptive")
R3GAN_SUPPORTS = ("it brings its own stabilisers (R1 + R2 with --gamma, no normalisation) and schedule "
                  "(--decay-steps); it takes --loss, --augment, --ema-beta, --d-steps, --balance fixed/ttur")
# paper (github.com/brownvc/R3GAN, train.py): Adam betas (0, 0.9 -> 0.99), lr 2e-4 -> 5e-5, noise dim 64, RpGAN;
# widths are small here so a CPU trains it in minutes (16 at full size, 64 at 4-8 px; the paper's are 768 x 2)
R3GAN_DEFAULTS = dict(loss="rpgan", lr_g=2e-4, lr_d=2e-4, beta1=0.0, beta2=0.99, latent_dim=64, g_width=16,
                      d_width=16, ema_beta=0.999)
COMMON = dict(relativistic=True, own_settings=("loss", "spectral_norm", "d_batchnorm", "upsample"),
              refuses=R3GAN_REFUSES, supports=R3GAN_SUPPORTS, defaults=R3GAN_DEFAULTS,
              sections=("evaluation", "r3gan"))

SPEC = ModelSpec(
    name="r3gan", summary="R3GAN: normalisation-free ResNets, RpGAN loss with R1 + R2 penalties",
    recipe="r3gan", conditional="conditional-r3gan", **COMMON,
    example_args=dict(resolution=16, channels=1, latent_dim=8, g_width=4, d_width=4),
)

CONDITIONAL_SPEC = ModelSpec(
    name="conditional-r3gan", summary="class-conditional R3GAN: class embedding in G, projection in D",
    recipe="conditional-r3gan", pickable=False, instead="--model r3gan --conditional", inputs="latent+labels",
    **COMMON, example_args=dict(resolution=16, channels=1, latent_dim=8, g_width=4, d_width=4, num_classes=3),
)


@register(SPEC)
def build_r3gan(resolution: int = 32, channels: int = 3, latent_dim: int = 64, g_width: int = 64,
                d_width: int = 64) -> tuple[nn.Module, nn.Module]:
    return (R3GANGenerator(resolution, channels, latent_dim, g_width),
            R3GANDiscriminator(resolution, channels, d_width))


@register(CONDITIONAL_SPEC)
def build_conditional_r3gan(resolution: int = 32, channels: int = 3, latent_dim: int = 64, g_width: int = 64,
                            d_width: int = 64, num_classes: int = 10) -> tuple[nn.Module, nn.Module]:
    if num_classes < 2:
        raise ValueError(f"a conditional model needs at least 2 classes, got {num_classes}")
    return (R3GANGenerator(resolution, channels, latent_dim, g_width, num_classes),
            R3GANDiscriminator(resolution, channels, d_width, num_classes))
