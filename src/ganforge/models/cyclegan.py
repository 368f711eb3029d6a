"""CycleGAN networks (Zhu et al. 2017): two generators (A -> B, B -> A) and two PatchGAN discriminators.

The generator is the paper's residual network (Johnson et al. 2016): a 7x7 conv, two stride-2 convs down,
residual blocks at 1/4 size, two transposed convs up, a 7x7 conv to the output; reflection padding and
instance norm throughout. pix2pix's U-Net (with instance norm, no dropout) is the option. Each pair of
networks travels as one module, so the trainer's one G optimiser, EMA and checkpoint cover both directions.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ganforge.errors import GanforgeError
from ganforge.models.dcgan import dcgan_init
from ganforge.models.patchgan import PatchDiscriminator, strided_layers_for
from ganforge.models.registry import register
from ganforge.models.spec import ModelSpec
from ganforge.models.unet import UNetGenerator

GENERATORS = ("resnet", "unet")
DIRECTIONS = ("AtoB", "BtoA")


def default_blocks(resolution: int) -> int:
    """The paper's choice: 9 residual blocks for 256 px images, 6 for 128 px and below."""
    return 9 if resolution >= 256 else 6


class ResidualBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), nn.InstanceNorm2d(channels), nn.ReLU(),
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), nn.InstanceNorm2d(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    """(B, in_channels, H, W) -> (B, out_channels, H, W) in [-1, 1]; H and W multiples of `stride` (4)."""

    stride = 4

    def __init__(self, in_channels: int = 3, out_channels: int = 3, width: int = 64, blocks: int = 6) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(in_channels, width, 7), nn.InstanceNorm2d(width),
                                   nn.ReLU()]
        for m in (1, 2):  # down to 1/4 size, 4x the width
            layers += [nn.Conv2d(width * m, width * m * 2, 3, 2, 1), nn.InstanceNorm2d(width * m * 2), nn.ReLU()]
        layers += [ResidualBlock(width * 4) for _ in range(blocks)]
        for m in (4, 2):  # back up to full size
            layers += [nn.ConvTranspose2d(width * m, width * m // 2, 3, 2, 1, output_padding=1),
                       nn.InstanceNorm2d(width * m // 2), nn.ReLU()]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(width, out_channels, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.apply(dcgan_init)  # N(0, 0.02) weights, as the paper's code initialises

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class CycleGenerators(nn.Module):
    """Both generators: `AtoB` and `BtoA`. Calling it translates A -> B; `direction(name)` gives either one."""

    def __init__(self, AtoB: nn.Module, BtoA: nn.Module) -> None:  # noqa: N803  (the directions' own names)
        super().__init__()
        self.AtoB, self.BtoA = AtoB, BtoA
        self.stride = AtoB.stride  # inputs are padded to a multiple of it (inference/translate.py)

    def direction(self, name: str) -> nn.Module:
        if name not in DIRECTIONS:
            raise GanforgeError(f"--direction must be AtoB or BtoA, got {name!r}")
        return self.AtoB if name == "AtoB" else self.BtoA

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.AtoB(x)

    def inactive_parameters(self) -> set[str]:
        """The parameters a plain call (A -> B) does not use."""
        return {f"BtoA.{name}" for name, _ in self.BtoA.named_parameters()}


class CycleDiscriminators(nn.Module):
    """`A` tells real A images from translated ones, `B` the same for B. Calling it judges B images."""

    def __init__(self, A: nn.Module, B: nn.Module) -> None:  # noqa: N803
        super().__init__()
        self.A, self.B = A, B

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.B(x)

    def inactive_parameters(self) -> set[str]:
        return {f"A.{name}" for name, _ in self.A.named_parameters()}


def check_settings(cfg: Any) -> None:
    """The CycleGAN settings that cannot work together (numeric ranges: config/ranges.py)."""
    strided_layers_for(cfg.patch_size)
    if cfg.generator not in GENERATORS:
        raise GanforgeError(f"--generator must be one of {', '.join(GENERATORS)}, got {cfg.generator!r}")
    if cfg.resnet_blocks is not None and cfg.generator != "resnet":
        raise GanforgeError("--resnet-blocks sets the resnet generator's depth; drop it with --generator unet")
    if cfg.balance in ("skip", "adaptive"):
        raise GanforgeError(f"--balance {cfg.balance} is not available for --model cyclegan; use fixed or ttur")


SPEC = ModelSpec(
    name="cyclegan",
    summary="CycleGAN: image-to-image translation from two unpaired folders (two ResNet Gs, two PatchGAN Ds)",
    recipe="unpaired", sections=("pix2pix", "cyclegan"), inputs="image", aspect=True, check=check_settings,
    scored_by="on held-out images at the end of training (and by ganforge eval-translation)",
    defaults=dict(loss="lsgan", lr_decay_start=0.5, batch_size=4, patch_size=70),
    own_settings=("loss", "spectral_norm", "d_batchnorm", "upsample", "batch_size"),
    refuses=("pack", "minibatch_std", "instance_noise", "r1_gamma", "augment=ada", "augment=fixed", "loss=wgan-gp",
             "l1_weight", "adversarial_weight", "dropout", "random_crop", "direction"),
    supports="it supports --loss, --ema-beta, --lr-decay-start, --spectral-norm and the settings of its section",
    example_args=dict(resolution=16, in_channels=1, out_channels=1, g_width=4, d_width=4, patch_size=16,
                      resnet_blocks=1),
)


@register(SPEC)
def build_cyclegan(resolution: int = 256, in_channels: int = 3, out_channels: int = 3, g_width: int = 64,
                   d_width: int = 64, patch_size: int = 70, generator: str = "resnet",
                   resnet_blocks: int | None = None) -> tuple[nn.Module, nn.Module]:
    def make(c_in: int, c_out: int) -> nn.Module:
        if generator == "unet":  # no dropout: the cycle needs G deterministic (the paper's code default)
            return UNetGenerator(c_in, c_out, resolution, g_width, dropout=0.0, norm="instance")
        return ResnetGenerator(c_in, c_out, g_width, resnet_blocks or default_blocks(resolution))

    G = CycleGenerators(make(in_channels, out_channels), make(out_channels, in_channels))
    D = CycleDiscriminators(PatchDiscriminator(in_channels, d_width, patch_size, norm="instance"),
                            PatchDiscriminator(out_channels, d_width, patch_size, norm="instance"))
    return G, D
