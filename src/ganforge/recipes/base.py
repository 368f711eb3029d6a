"""What every recipe shares: the Recipe base class, the step's parts, the recipe registry and the step helpers.

Each recipe module imports this one (never the package), so the package can import every recipe to register it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganforge.config import TrainConfig
from ganforge.data import ImageDataset
from ganforge.data.batches import BatchStream
from ganforge.errors import GanforgeError
from ganforge.images import save_grid
from ganforge.registry import Registry
from ganforge.runtime import scaled_step

# A step object: step(real, z, labels=None, train_d=True, train_g=True) -> {"loss/D": tensor, ...}
Step = Callable[..., dict[str, torch.Tensor]]


@dataclass
class StepParts:
    """What a recipe's step trains: the networks, their optimisers and loss scalers, where and how precisely."""

    G: nn.Module
    D: nn.Module  # the D the step calls: the loop's D-input wrapper when the recipe `wraps_d`
    opt_G: torch.optim.Optimizer
    opt_D: torch.optim.Optimizer
    device: torch.device
    precision: str = "fp32"
    scaler_G: torch.amp.GradScaler | None = None  # fp16 only (runtime.loss_scalers)
    scaler_D: torch.amp.GradScaler | None = None

    def update_G(self, loss: torch.Tensor) -> None:
        update(self.opt_G, loss, self.scaler_G)

    def update_D(self, loss: torch.Tensor) -> None:
        update(self.opt_D, loss, self.scaler_D)


class Recipe:
    """What one kind of training differs in; the defaults are the noise-to-image GAN's. A recipe gives
    `model_args` and `make_step` and overrides the rest only where it differs."""

    name = ""  # the registry key, saved in checkpoints as "recipe"
    memory_format = torch.channels_last  # how networks and batches are laid out on the device
    wraps_d = True  # the step's D is the loop's D-input wrapper (augmentation, noise, packing); False: D itself
    judged_by_spread = True  # the doctor compares the spread of G's grid samples with real batches' (doctor.py)

    def __init__(self, config: TrainConfig, dataset: ImageDataset) -> None:
        self.config = config
        self.dataset = dataset
        self._device_copies: dict[tuple[int, str], torch.Tensor] = {}  # on_device's copies

    # --- data ----------------------------------------------------------------------------------------
    @staticmethod
    def load_data(config: TrainConfig, quiet: bool = False) -> ImageDataset:
        """The training data a config names (when the caller gives none)."""
        from ganforge.data import load_dataset

        return load_dataset(config.data, config.resolution, config.channels, quiet=quiet, aspect=config.aspect)

    def check_data(self) -> None:
        """Fail early when the data cannot train these networks."""
        d, cfg = self.dataset, self.config
        from ganforge.aspect import image_size

        size = image_size(cfg.resolution, cfg.aspect)  # (H, W)
        if (tuple(d.images.shape[1:3]), d.channels) != (size, cfg.channels):
            h, w = d.images.shape[1:3]
            raise GanforgeError(f"the data set is {h}x{w} px (HxW) with {d.channels} channel(s) but the config "
                                f"says {size[0]}x{size[1]} px with {cfg.channels}")

    def batches(self, device: torch.device, batch_size: int, seed: int, rank: int = 0,
                world_size: int = 1) -> BatchStream:
        """The endless, resumable stream of training batches; with several processes, this rank's slice of each."""
        d = self.dataset
        labels = None if d.labels is None else self.on_device(d.labels, device)
        return BatchStream(self.on_device(d.images, device), batch_size, seed, self.config.flip, labels=labels,
                           crop=self.config.resolution if self.config.aspect == "1:1" else None,
                           rank=rank, world_size=world_size)

    def noise(self, batch_size: int, generator: torch.Generator, device: torch.device) -> torch.Tensor | None:
        """The latent batch for one step (None for recipes without a latent)."""
        return torch.randn(batch_size, self.config.latent_dim, device=device, generator=generator)

    # --- networks and step ---------------------------------------------------------------------------
    def model_name(self) -> str:
        """The models registry key, saved in checkpoints as "model"."""
        return self.config.model

    def model_args(self) -> dict[str, Any]:
        """create_model's keyword arguments, saved as "model_args" so a checkpoint rebuilds its networks."""
        raise NotImplementedError

    def make_step(self, parts: StepParts) -> Step:
        """The step object: one D update and one G update on a batch (see Step)."""
        raise NotImplementedError

    # --- samples -------------------------------------------------------------------------------------
    def sample_inputs(self, device: torch.device) -> dict[str, torch.Tensor]:
        """The fixed inputs of the sample grid, the same at every step and after a resume."""
        z = torch.randn(self.config.sample_count, self.config.latent_dim,
                        generator=torch.Generator().manual_seed(self.config.seed + 2))
        return {"z": z.to(device)}

    def sample_grid(self, G: nn.Module, inputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, int]:
        """(images for the grid, images per row); G is already in eval mode."""
        images = G(inputs["z"])
        return images, int(len(images) ** 0.5) or 1

    def save_samples(self, path: Path, images: torch.Tensor, per_row: int, D: nn.Module) -> None:
        """Write one step's sample grid (D: for a plot of D's decision surface)."""
        save_grid(path, images, nrow=per_row)

    def finish(self, out_dir: Path) -> None:
        """Write what comes once at the end of training (nothing by default)."""

    # --- checkpoints ---------------------------------------------------------------------------------
    def checkpoint_extras(self, D: nn.Module) -> dict[str, Any]:
        """Plain data added to every checkpoint for its readers (class names, InfoGAN's category prior)."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        """The recipe's own training state (e.g. a growing schedule's position), saved in every checkpoint."""
        return {}

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        """Restore state_dict() on resume (None: a checkpoint written without one)."""

    # --- a helper, not a hook ------------------------------------------------------------------------
    def on_device(self, data: torch.Tensor, device: torch.device) -> torch.Tensor:
        """`data` (a tensor of this recipe's data set) on `device`, copied there once: the training stream
        and the doctor's fixed batches share the copy instead of each holding the whole data set on a GPU."""
        key = (id(data), str(device))
        if key not in self._device_copies:
            self._device_copies[key] = data.to(device)
        return self._device_copies[key]


def step_stats(d_loss: torch.Tensor, g_loss: torch.Tensor, real_logits: torch.Tensor,
               fake_logits: torch.Tensor) -> dict[str, torch.Tensor]:
    """What every noise-to-image step reports: both losses, D(x) and D(G(z)) as probabilities, and
    E[sign(D(x))], ADA's overfitting signal r_t. All detached and on the device: no host sync."""
    real, fake = real_logits.detach().float(), fake_logits.detach().float()
    return {
        "loss/D": d_loss.detach(),
        "loss/G": g_loss.detach(),
        "D/real_prob": torch.sigmoid(real).mean(),
        "D/fake_prob": torch.sigmoid(fake).mean(),
        "D/real_sign": real.sign().mean(),
    }


def update(optimizer: torch.optim.Optimizer, loss: torch.Tensor, scaler: torch.amp.GradScaler | None = None) -> None:
    """One optimiser step on `loss` (set_to_none: no zeroing pass over the old gradients; fp16: loss-scaled)."""
    optimizer.zero_grad(set_to_none=True)
    scaled_step(optimizer, loss, scaler)


RECIPES: Registry[type[Recipe]] = Registry("recipe")
