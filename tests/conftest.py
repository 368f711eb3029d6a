"""Shared tiny fixtures: small models, few steps, fixed seeds, no network."""

from __future__ import annotations

import pytest
import torch

from ganforge.config import TrainConfig

torch.set_num_threads(2)


@pytest.fixture
def tiny_config() -> TrainConfig:
    """A DCGAN small enough that a few steps take well under a second."""
    return TrainConfig(data="digits", resolution=16, channels=1, latent_dim=8, g_width=8, d_width=8,
                       batch_size=8, total_steps=4, log_every=2, sample_every=2, checkpoint_every=2,
                       sample_count=4, precision="fp32", device="cpu", seed=0)
