"""pix2pix (Isola et al. 2017): a U-Net learns input -> target from aligned pairs.

Loss for G: adversarial_weight * cGAN + l1_weight * L1(G(x), y), defaults 1 and 100. L1 alone gets
the low frequencies right but blurs whatever the input does not determine; the PatchGAN, which sees
cat(input, output), punishes blur patch by patch. adversarial_weight 0 trains a plain L1 U-Net (no D
step at all), l1_weight 0 a cGAN alone: the two ablations of the paper's Table 1.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ganforge.config import TrainConfig
from ganforge.data.load import load_pairs
from ganforge.data.paired import PairedDataset
from ganforge.errors import GanforgeError
from ganforge.images import from_uint8
from ganforge.losses.adversarial import AdversarialLoss
from ganforge.losses.factory import make_loss
from ganforge.models.patchgan import patch_grid_size
from ganforge.recipes.base import RECIPES, Recipe, Step, StepParts
from ganforge.runtime import autocast

JITTER = 9 / 8  # --random-crop: pairs are stored this much larger (the paper's 286 -> 256)
SAMPLE_COLUMNS = 8


class Pix2PixStep:
    """One D update on (input, target) vs (input, G(input)), then one G update on cGAN + L1."""

    def __init__(self, parts: StepParts, loss: AdversarialLoss, input_channels: int, l1_weight: float = 100.0,
                 adversarial_weight: float = 1.0) -> None:
        self.parts, self.G, self.D = parts, parts.G, parts.D
        self.loss, self.device, self.precision = loss, parts.device, parts.precision
        self.input_channels = input_channels
        self.l1_weight, self.adversarial_weight = l1_weight, adversarial_weight

    def __call__(self, real: torch.Tensor, z: torch.Tensor | None = None, labels: torch.Tensor | None = None,
                 train_d: bool = True, train_g: bool = True) -> dict[str, torch.Tensor]:
        G, D = self.G, self.D
        source, target = real[:, : self.input_channels], real[:, self.input_channels :]  # the stacked pair
        with autocast(self.device, self.precision):
            fake = G(source)  # (B, C_out, H, W)
        stats: dict[str, torch.Tensor] = {}
        adversarial = self.adversarial_weight > 0

        if adversarial:  # Stage 1: D tells real pairs from (input, G(input)) pairs, patch by patch
            D.requires_grad_(True)
            with autocast(self.device, self.precision):
                real_logits = D(torch.cat([source, target], dim=1))  # (B, 1, h, w)
                fake_logits = D(torch.cat([source, fake.detach()], dim=1))
            d_loss = 0.5 * self.loss.d_loss(real_logits.float(), fake_logits.float())  # halved, as in the paper
            if train_d:
                self.parts.update_D(d_loss)
            stats["loss/D"] = d_loss.detach()
            stats["D/real_prob"] = torch.sigmoid(real_logits.detach().float()).mean()
            stats["D/fake_prob"] = torch.sigmoid(fake_logits.detach().float()).mean()

        # Stage 2: G makes D say "real" for its pairs and stays close to the target in L1; D frozen
        l1 = (fake.float() - target.float()).abs().mean()
        g_loss = self.l1_weight * l1
        if adversarial:
            D.requires_grad_(False)
            with autocast(self.device, self.precision):
                g_logits = D(torch.cat([source, fake], dim=1))
            g_adv = self.loss.g_loss(g_logits.float())
            g_loss = g_loss + self.adversarial_weight * g_adv
            stats["loss/G_adv"] = g_adv.detach()
        if train_g:
            self.parts.update_G(g_loss)
        D.requires_grad_(True)
        stats["loss/G"] = g_loss.detach()
        stats["loss/L1"] = l1.detach()
        return stats


def center_crop(images: torch.Tensor, size: int) -> torch.Tensor:
    """(..., H, W) -> (..., size, size) from the middle."""
    h, w = images.shape[-2:]
    top, left = (h - size) // 2, (w - size) // 2
    return images[..., top : top + size, left : left + size]


def as_rgb(images: torch.Tensor, channels: int) -> torch.Tensor:
    """Grey (N, 1, H, W) repeated to `channels` so inputs and outputs can share one grid."""
    return images.expand(-1, channels, -1, -1) if images.shape[1] < channels else images


def comparison_rows(source: torch.Tensor, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Three rows for one grid: inputs, outputs, targets (each (N, C, H, W) in [-1, 1])."""
    channels = max(source.shape[1], output.shape[1], target.shape[1])
    return torch.cat([as_rgb(source, channels), as_rgb(output.float(), channels), as_rgb(target, channels)])


@RECIPES.register("pix2pix")
class Pix2PixRecipe(Recipe):
    """Paired input -> target translation; the sample grid shows input / output / target rows."""

    name = "pix2pix"
    dataset: PairedDataset
    judged_by_spread = False  # translations are judged against their targets (heldout.json), not by their spread

    @staticmethod
    def load_data(config: TrainConfig, quiet: bool = False) -> PairedDataset:
        load_size = round(config.resolution * JITTER) if config.random_crop else None
        pairs = load_pairs(config.data, config.resolution, config.channels, config.direction, "train", load_size,
                           quiet=quiet)
        assert pairs is not None  # a training split always exists
        return pairs

    def check_data(self) -> None:
        d, cfg = self.dataset, self.config
        if not isinstance(d, PairedDataset):
            raise GanforgeError("pix2pix trains on pairs; got an unpaired data set")
        if d.target_channels != cfg.channels or d.resolution < cfg.resolution:
            raise GanforgeError(f"the pairs are {d.resolution} px with {d.target_channels} target channel(s) but "
                                f"the config says {cfg.resolution} px with {cfg.channels}")
        if patch_grid_size(cfg.resolution, cfg.patch_size) < 1:
            raise GanforgeError(f"--patch-size {cfg.patch_size} is too large for {cfg.resolution} px images; "
                                "use a smaller one (16 or 34)")

    def model_args(self) -> dict[str, Any]:
        cfg = self.config
        return dict(resolution=cfg.resolution, in_channels=self.dataset.input_channels, out_channels=cfg.channels,
                    g_width=cfg.g_width, d_width=cfg.d_width, patch_size=cfg.patch_size, dropout=cfg.dropout)

    def make_step(self, parts: StepParts) -> Step:
        cfg = self.config
        return Pix2PixStep(parts, make_loss(cfg.loss, cfg.label_smoothing), self.dataset.input_channels,
                           cfg.l1_weight, cfg.adversarial_weight)

    def noise(self, batch_size: int, generator: torch.Generator, device: torch.device) -> None:
        return None  # dropout is G's only source of randomness

    def sample_inputs(self, device: torch.device) -> dict[str, torch.Tensor]:
        count = min(SAMPLE_COLUMNS, self.config.sample_count, len(self.dataset))
        index = torch.linspace(0, len(self.dataset) - 1, count).long()  # spread over the data set
        pairs = center_crop(from_uint8(self.dataset.images[index]), self.config.resolution).to(device)
        c = self.dataset.input_channels
        return {"source": pairs[:, :c], "target": pairs[:, c:]}

    def sample_grid(self, G: nn.Module, inputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, int]:
        source, target = inputs["source"], inputs["target"]
        return comparison_rows(source, G(source), target), len(source)

    def checkpoint_extras(self, D: nn.Module) -> dict[str, Any]:
        return {"direction": self.config.direction}
