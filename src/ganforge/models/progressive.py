"""Progressive growing (Karras et al. 2018): train the low-resolution layers first, then add each
higher resolution and fade it in, so the networks never have to learn all scales from scratch at once.

Which layers are in use is model state, kept in two buffers (so checkpoints and the EMA copy carry it):
`stage` (0 = the 4-pixel grid only, last = full size) and `alpha` (the fade-in weight of the newest
stage, 1 = fully in). The schedule that moves them lives in training/progressive_schedule.py.

Contract: G(z) is always full size (the current stage's image, nearest-upsampled), and D takes
full-size images (2x2-averaged down to the current stage), so the loop, sampling, metrics and export
never need to know the stage.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.models.registry import register
from ganforge.models.scaled import (
    DiscriminatorHead,
    EqualConv2d,
    ScaleGenerator,
    conv_act,
    grid_sizes,
    num_doublings,
    scale_widths,
)
from ganforge.models.spec import OWN_D_INPUT, ModelSpec


def _read_stage_after_loading(module: _Staged, incompatible_keys: object) -> None:
    module._stage_alpha()


class _Staged(nn.Module):
    """The stage / alpha buffers and the parameters each stage leaves unused."""

    last_stage: int

    def _init_stage(self, last_stage: int) -> None:
        self.last_stage = last_stage
        self.register_buffer("stage", torch.tensor(0))
        self.register_buffer("alpha", torch.tensor(1.0))
        self._current = (0, 1.0)  # the buffers' values as Python numbers, for export (see _stage_alpha)
        self.register_load_state_dict_post_hook(_read_stage_after_loading)

    def set_stage(self, stage: int, alpha: float = 1.0) -> None:
        if not 0 <= stage <= self.last_stage:
            raise ValueError(f"stage must be 0..{self.last_stage}, got {stage}")
        self.stage.fill_(stage)
        self.alpha.fill_(1.0 if stage == 0 else alpha)
        self._stage_alpha()

    def _stage_alpha(self) -> tuple[int, float]:
        """The buffers' values; while torch.export / compile traces, the ones read last (buffers are symbolic
        then), so an exported generator is the stage it was loaded or last run at."""
        if not torch.compiler.is_compiling():
            self._current = (int(self.stage), float(self.alpha))
        return self._current

    def inactive_parameters(self) -> set[str]:
        """Names of parameters the current stage does not use (they get no gradient, by design)."""
        stage, alpha = self._stage_alpha()
        used = {stage, stage - 1} if alpha < 1 else {stage}
        return {name for name, _ in self.named_parameters() if self._stage_of(name, stage, used)}

    @staticmethod
    def _stage_of(name: str, stage: int, rgb_used: set[int]) -> bool:
        kind, index = name.split(".")[:2]
        if kind in ("to_rgb", "from_rgb"):
            return int(index) not in rgb_used
        return kind == "blocks" and int(index) + 1 > stage  # blocks[k] makes / reads stage k + 1


class ProgressiveGenerator(_Staged, ScaleGenerator):
    """MSG-GAN's generator body (ScaleGenerator), run only up to the current stage."""

    def __init__(self, resolution: int = 64, channels: int = 3, latent_dim: int = 100, width: int = 16,
                 aspect: str = "1:1") -> None:
        super().__init__(resolution, channels, latent_dim, width, aspect)
        self._init_stage(num_doublings(resolution))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        stage, alpha = self._stage_alpha()
        h = self.stem(z)
        for block in self.blocks[:stage]:
            previous, h = h, block(h)
        rgb = self.to_rgb[stage](h)
        if alpha < 1:  # fade-in: blend with the previous stage's image, upsampled
            rgb = alpha * rgb + (1 - alpha) * F.interpolate(self.to_rgb[stage - 1](previous), scale_factor=2.0)
        image = torch.tanh(rgb)  # (B, C, h0 * 2^stage, w0 * 2^stage)
        factor = 2 ** (self.last_stage - stage)
        return image if factor == 1 else F.interpolate(image, scale_factor=float(factor))  # -> full size


class ProgressiveDiscriminator(_Staged):
    def __init__(self, resolution: int = 64, channels: int = 3, width: int = 16, aspect: str = "1:1") -> None:
        super().__init__()
        self._init_stage(num_doublings(resolution))
        widths = scale_widths(resolution, width)  # at 4, 8, ..., R px
        self.from_rgb = nn.ModuleList(EqualConv2d(channels, c, 1) for c in widths)
        # blocks[k] reads stage k + 1's features (2^(k+1) times the base grid) and halves them
        self.blocks = nn.ModuleList(
            nn.Sequential(*conv_act(c_in, c_in, pixel_norm=False), *conv_act(c_in, c_out, pixel_norm=False),
                          nn.AvgPool2d(2))
            for c_in, c_out in zip(widths[1:], widths[:-1]))
        self.head = DiscriminatorHead(widths[0], grid_sizes(resolution, aspect)[0])

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """What the head judges at the current stage and fade: the 4-pixel-grid features, (B, w, h0, w0), the
        same shape at every stage (the training doctor compares these between generated and real batches)."""
        stage, alpha = self._stage_alpha()
        factor = 2 ** (self.last_stage - stage)
        x = F.avg_pool2d(x, factor) if factor > 1 else x  # (B, C, h0 * 2^stage, w0 * 2^stage)
        h = F.leaky_relu(self.from_rgb[stage](x), 0.2)
        if stage > 0:
            h = self.blocks[stage - 1](h)
            if alpha < 1:  # fade-in: blend with the previous stage's path on the half-size image
                skip = F.leaky_relu(self.from_rgb[stage - 1](F.avg_pool2d(x, 2)), 0.2)
                h = alpha * h + (1 - alpha) * skip
            for block in reversed(self.blocks[: stage - 1]):
                h = block(h)
        return h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))  # (B,) logits


# ProGAN's settings (equalised learning rate: Adam 1e-3, beta1 = 0); its D has its own minibatch std
SPEC = ModelSpec(
    name="progressive", summary="progressive growing (ProGAN): G and D grow a resolution at a time",
    recipe="progressive", aspect=True, sections=("evaluation", "progressive"),
    defaults=dict(loss="rahinge", lr_g=1e-3, lr_d=1e-3, beta1=0.0, beta2=0.99, g_width=16, d_width=16),
    **OWN_D_INPUT,
    example_args=dict(resolution=16, channels=1, latent_dim=8, g_width=4, d_width=4),
)


@register(SPEC)
def build_progressive(resolution: int = 64, channels: int = 3, latent_dim: int = 100, g_width: int = 16,
                      d_width: int = 16, aspect: str = "1:1") -> tuple[nn.Module, nn.Module]:
    return (ProgressiveGenerator(resolution, channels, latent_dim, g_width, aspect),
            ProgressiveDiscriminator(resolution, channels, d_width, aspect))
