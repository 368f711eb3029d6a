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


# --- style transfer (issue 5): tests never touch the network ---------------------------------------
@pytest.fixture(autouse=True)
def offline_torch_hub(tmp_path_factory, monkeypatch):
    """An empty torch hub cache and a VGG19 download that fails as it does with no network."""
    import urllib.error

    monkeypatch.setenv("TORCH_HOME", str(tmp_path_factory.mktemp("torch_home")))

    def no_network(url: str, *args, **kwargs) -> None:
        raise urllib.error.URLError(f"no network in tests ({url})")

    monkeypatch.setattr("torch.hub.load_state_dict_from_url", no_network)
