"""Differentiable augmentation for D's inputs (DiffAugment: colour, translation, cutout), with an
ADA-style adaptive probability.

Every image D sees, real or generated, in D's and in G's update, goes through the same random
transformations. Because they are differentiable, G still gets gradients through them, and because
D never sees an un-augmented sample, it cannot memorise a small training set. With probability p
per sample and per transformation, p = 0 is exactly the identity.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

ADA_ADJUST_EVERY = 4  # steps between adjustments of p
ADA_SPEED_IMAGES = 100_000  # images over which p can move from 0 to 1 (ADA uses 500k; our runs are short)
ADA_MAX_P = 0.8  # above this, augmentations start to "leak" into what G learns (Karras et al. 2020)


def _chosen(x: torch.Tensor, p: float) -> torch.Tensor:
    """(B, 1, 1, 1) mask, 1 for the samples that get this transformation."""
    return (torch.rand(x.shape[0], 1, 1, 1, device=x.device) < p).to(x.dtype)


def _colour(x: torch.Tensor, p: float) -> torch.Tensor:
    if x.shape[1] == 4:  # RGBA: colour changes the picture, not where it is transparent
        return torch.cat([_colour(x[:, :3], p), x[:, 3:]], 1)
    brightness = torch.rand(x.shape[0], 1, 1, 1, device=x.device) - 0.5
    x = x + _chosen(x, p) * brightness
    mean = x.mean(1, keepdim=True)  # saturation: towards / away from grey
    x = x + _chosen(x, p) * ((x - mean) * (torch.rand(x.shape[0], 1, 1, 1, device=x.device) * 2 - 1))
    mean = x.mean((1, 2, 3), keepdim=True)  # contrast
    return x + _chosen(x, p) * ((x - mean) * (torch.rand(x.shape[0], 1, 1, 1, device=x.device) - 0.5))


def _translate(x: torch.Tensor, p: float, ratio: float = 0.125) -> torch.Tensor:
    """Shift each chosen image by up to ratio * size pixels, filling with zeros (mid grey)."""
    b, _, h, w = x.shape
    s = max(1, round(min(h, w) * ratio))
    shift = torch.randint(-s, s + 1, (b, 2), device=x.device) * _chosen(x, p).view(b, 1).long()
    padded = F.pad(x, [s, s, s, s])
    rows = torch.arange(h, device=x.device)[None, :] + s - shift[:, :1]  # (B, H)
    cols = torch.arange(w, device=x.device)[None, :] + s - shift[:, 1:]  # (B, W)
    batch = torch.arange(b, device=x.device)[:, None, None]
    return padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)


def _cutout(x: torch.Tensor, p: float, ratio: float = 0.5) -> torch.Tensor:
    """Zero a square of half the image size at a random place in each chosen image."""
    b, _, h, w = x.shape
    ch, cw = max(1, round(h * ratio)), max(1, round(w * ratio))
    cy = torch.randint(0, h + 1 - ch % 2, (b, 1, 1), device=x.device)
    cx = torch.randint(0, w + 1 - cw % 2, (b, 1, 1), device=x.device)
    yy = torch.arange(h, device=x.device).view(1, h, 1)
    xx = torch.arange(w, device=x.device).view(1, 1, w)
    inside = ((yy - cy).abs() <= ch // 2) & ((xx - cx).abs() <= cw // 2)  # (B, H, W)
    keep = 1 - inside.unsqueeze(1).to(x.dtype) * _chosen(x, p)
    return x * keep


def diff_augment(x: torch.Tensor, p: float) -> torch.Tensor:
    """(B, C, H, W) -> same shape; each transformation hits each sample with probability p."""
    if p <= 0:
        return x
    return _cutout(_translate(_colour(x, p), p), p)


class AdaptiveAugment:
    """Holds p. In adaptive mode p follows ADA's overfitting signal r_t = E[sign(D(real))]:
    when D is too sure of the reals (r_t above the target) p rises; otherwise it falls."""

    def __init__(self, p: float = 0.0, adaptive: bool = True, target: float = 0.6, batch_size: int = 64) -> None:
        self.p, self.adaptive, self.target = p, adaptive, target
        self.step_size = batch_size * ADA_ADJUST_EVERY / ADA_SPEED_IMAGES
        self._signs: list[torch.Tensor] = []

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return diff_augment(x, self.p)

    def observe(self, real_sign: torch.Tensor) -> None:
        """Feed one step's mean sign of D's logits on reals; adjusts p every few steps."""
        if not self.adaptive:
            return
        self._signs.append(real_sign.detach())
        if len(self._signs) >= ADA_ADJUST_EVERY:
            r_t = float(torch.stack([s.to(real_sign.device) for s in self._signs]).mean())
            self._signs.clear()
            direction = 1.0 if r_t > self.target else -1.0
            self.p = min(ADA_MAX_P, max(0.0, self.p + direction * self.step_size))

    def state_dict(self) -> dict[str, Any]:
        """p and the signs of the adjustment window in progress (a resume mid-window must adjust on time)."""
        return {"p": self.p, "signs": [float(s) for s in self._signs]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.p = float(state["p"])
        self._signs = [torch.tensor(s) for s in state.get("signs", [])]
