"""Building blocks shared by the architectures: minibatch std, packing, spectral norm."""

from __future__ import annotations

import torch
from torch import nn


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
