"""What D sees: every input (real or fake, in D's and in G's update) augmented, noised and packed.

Wrapping D this way keeps the recipe step unaware of the stabilisers: it calls D as before, and
the checkpoint still holds the plain D underneath.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ganforge.data.augment import AdaptiveAugment
from ganforge.models.layers import pack


class DiscriminatorInput(nn.Module):
    def __init__(self, D: nn.Module, augment: AdaptiveAugment | None = None, pack_size: int = 1,
                 instance_noise: float = 0.0, noise_anneal_steps: int = 1) -> None:
        super().__init__()
        self.D = D
        self.augment = augment
        self.pack_size = pack_size
        self.instance_noise, self.noise_anneal_steps = instance_noise, noise_anneal_steps
        self.noise_std = instance_noise

    def _disturbed(self, x: torch.Tensor) -> torch.Tensor:
        if self.augment is not None:
            x = self.augment(x)
        if self.noise_std > 0:  # instance noise: blurs the two distributions so they overlap early on
            x = x + self.noise_std * torch.randn_like(x)
        return x

    def forward(self, x: torch.Tensor, *extra: Any) -> torch.Tensor:
        return self.D(pack(self._disturbed(x), self.pack_size), *extra)

    def forward_with_codes(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """InfoGAN: D's logits and latent-category logits of the same (augmented, noised) input; no packing."""
        return self.D.forward_with_codes(self._disturbed(x))

    def features(self, x: torch.Tensor) -> torch.Tensor | None:
        """D's penultimate features of clean (packed) inputs, flattened; None if D exposes none."""
        body = getattr(self.D, "features", None)
        if not callable(body):
            return None
        x = x[: len(x) - len(x) % self.pack_size]  # whole packs only
        return body(pack(x, self.pack_size)).flatten(1)

    def judge_each(self, x: torch.Tensor) -> torch.Tensor:
        """D's logit for each clean input on its own (a packed D sees m copies of it): (N, ...) -> (N,)."""
        return self.D(pack(x.repeat_interleave(self.pack_size, 0), self.pack_size))

    def update(self, step: int, stats: dict[str, torch.Tensor]) -> None:
        """After each training step: anneal the instance noise linearly to 0, adapt the augmentation p."""
        self.noise_std = self.instance_noise * max(0.0, 1.0 - step / self.noise_anneal_steps)
        if self.augment is not None and "D/real_sign" in stats:
            self.augment.observe(stats["D/real_sign"])
