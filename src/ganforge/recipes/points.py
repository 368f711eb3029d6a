"""2D point GANs (ring, grid, your own (N, 2) .npy): the GAN step on MLPs, with scatter plots of
real vs generated points over D's decision surface instead of image grids, and a GIF at the end."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganforge.config import TrainConfig
from ganforge.data.batches import BatchStream
from ganforge.data.points import PointDataset, load_points
from ganforge.errors import GanforgeError
from ganforge.recipes.base import RECIPES, Recipe, Step, StepParts
from ganforge.recipes.gan import d_options, make_gan_step
from ganforge.training import plots2d


@RECIPES.register("points")
class PointsRecipe(Recipe):
    name = "points"
    dataset: PointDataset
    memory_format = torch.preserve_format  # (B, 2) tensors have no channels

    @staticmethod
    def load_data(config: TrainConfig, quiet: bool = False) -> PointDataset:
        return load_points(config.data)

    def check_data(self) -> None:
        cfg = self.config
        if cfg.flip or cfg.random_crop:
            raise GanforgeError("--flip and --random-crop are for images, not 2D point data")

    def model_args(self) -> dict[str, Any]:
        cfg = self.config
        return dict(latent_dim=cfg.latent_dim, g_width=cfg.g_width, d_width=cfg.d_width, **d_options(cfg))

    def make_step(self, parts: StepParts) -> Step:
        return make_gan_step(self.config, parts)

    def batches(self, device: torch.device, batch_size: int, seed: int, rank: int = 0,
                world_size: int = 1) -> BatchStream:
        return BatchStream(self.on_device(self.dataset.points, device), batch_size, seed, decode=torch.Tensor.float,
                           rank=rank, world_size=world_size)

    def save_samples(self, path: Path, images: torch.Tensor, per_row: int, D: nn.Module) -> None:
        plots2d.save_scatter(path, self.dataset.points, images, D, int(path.stem))

    def finish(self, out_dir: Path) -> None:
        plots2d.save_evolution_gif(out_dir / "samples", out_dir / "evolution.gif")
