"""Colour preservation (Gatys et al. 2016, "Preserving colour in neural artistic style transfer").

Luminance-only transfer: style is transferred between luminance images, and the result's luminance
is recombined with the content's colour (the I and Q channels of YIQ), so the content keeps its colours.
"""

from __future__ import annotations

import torch

RGB_TO_YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])


def to_yiq(image: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) RGB in [-1, 1] -> YIQ with Y in [0, 1]."""
    rgb = (image.float() + 1) / 2
    return torch.einsum("ij,njhw->nihw", RGB_TO_YIQ.to(rgb.device), rgb)


def from_yiq(yiq: torch.Tensor) -> torch.Tensor:
    """YIQ -> (N, 3, H, W) RGB in [-1, 1] (clamped)."""
    rgb = torch.einsum("ij,njhw->nihw", torch.linalg.inv(RGB_TO_YIQ).to(yiq.device), yiq)
    return (rgb * 2 - 1).clamp(-1, 1)


def luminance_image(image: torch.Tensor, like: torch.Tensor | None = None) -> torch.Tensor:
    """A grey RGB image of `image`'s luminance; with `like`, its mean and spread matched to `like`'s
    luminance (so a dark style does not darken a bright photo)."""
    y = to_yiq(image)[:, :1]
    if like is not None:
        ref = to_yiq(like)[:, :1]
        y = (y - y.mean()) / y.std().clamp_min(1e-6) * ref.std() + ref.mean()
    return (y * 2 - 1).clamp(-1, 1).expand(-1, 3, -1, -1).contiguous()


def keep_colours(result: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """The result's luminance with the content's I and Q channels."""
    yiq = to_yiq(content)
    yiq[:, :1] = to_yiq(result)[:, :1]
    return from_yiq(yiq)
