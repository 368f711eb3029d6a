"""The training doctor's collapse check on the high-resolution models: their discriminators
expose `features()`, so a generator whose samples all look alike is flagged and a diverse one is not."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ganforge.config import TrainConfig
from ganforge.data import load_dataset
from ganforge.images import from_uint8
from ganforge.models import create_model
from ganforge.recipes import recipe_for
from ganforge.training.d_input import DiscriminatorInput
from ganforge.training.doctor import COLLAPSE_RATIO, diversity_ratio
from ganforge.training.loop import train
from ganforge.training.metrics_log import read_metrics

from helpers.replay_generator import ReplayG

MODELS = ["msg", "progressive", "fastgan"]


@pytest.fixture(scope="module", autouse=True)
def _tiny_work_on_one_thread(one_thread):
    with one_thread():
        yield


@pytest.fixture(scope="module")
def shapes32() -> torch.Tensor:
    return from_uint8(load_dataset("shapes", 32, 3).images[:256])  # (256, 3, 32, 32) in [-1, 1]


def _ratio(model: str, G: nn.Module, real: torch.Tensor, stage: tuple[int, float] | None = None) -> float | None:
    torch.manual_seed(0)
    _, D = create_model(model, resolution=32, channels=3, latent_dim=8, g_width=4, d_width=4)
    if stage is not None:
        D.set_stage(*stage)
    config = TrainConfig(data="shapes", model=model, resolution=32)
    recipe = recipe_for(config)(config, None)
    inputs = {"z": torch.randn(64, 8, generator=torch.Generator().manual_seed(1))}
    return diversity_ratio(recipe, G, DiscriminatorInput(D), inputs, real)


@pytest.mark.parametrize("model", MODELS)
def test_highres_discriminators_expose_the_features_their_head_judges(model):
    torch.manual_seed(0)
    _, D = create_model(model, resolution=32, channels=3, latent_dim=8, g_width=4, d_width=4)
    D.eval()  # fastgan: no batch-norm statistics or spectral-norm power iteration updated between the two calls
    x = torch.rand(3, 3, 32, 32) * 2 - 1
    features = D.features(x)
    assert features.shape[0] == 3 and features.shape[-2:] == (4, 4)
    assert torch.equal(D.head(features).flatten(), D(x))


@pytest.mark.parametrize("model", MODELS)
def test_collapse_check_flags_a_collapsed_highres_generator_and_not_a_diverse_one(model, shapes32):
    real, others = shapes32[:128], shapes32[128:]
    diverse = _ratio(model, ReplayG(others), real)
    nearly_one_image = others[:1] + 0.02 * torch.randn(4, *others.shape[1:], generator=torch.Generator().manual_seed(2))
    collapsed = _ratio(model, ReplayG(nearly_one_image), real)
    assert diverse is not None and collapsed is not None
    assert diverse > 0.6 and collapsed < COLLAPSE_RATIO / 2, (diverse, collapsed)


@pytest.mark.parametrize("stage", [(0, 1.0), (1, 0.5)])
def test_progressive_collapse_check_works_at_every_stage_on_its_current_resolution(stage, shapes32):
    real, others = shapes32[:128], shapes32[128:]
    assert _ratio("progressive", ReplayG(others), real, stage) > 0.6
    assert _ratio("progressive", ReplayG(others[:1]), real, stage) < 1e-3
    _, D = create_model("progressive", resolution=32, channels=3, g_width=4, d_width=4)
    D.set_stage(0)  # the 4-px stage: the features see each image averaged down to 4x4 px and nothing finer
    blocky = F.interpolate(F.avg_pool2d(real[:4], 8), scale_factor=8.0)
    assert torch.allclose(D.features(real[:4]), D.features(blocky), atol=1e-5)
    D.set_stage(D.last_stage)
    assert not torch.allclose(D.features(real[:4]), D.features(blocky), atol=1e-3)


@pytest.mark.parametrize("model", MODELS)
def test_highres_runs_log_the_doctors_diversity(tiny_config, tmp_path, model):
    config = replace(tiny_config, data="shapes", channels=3, model=model, loss="rahinge", total_steps=2, log_every=1,
                     sample_every=1000, checkpoint_every=2, g_width=4, d_width=4)
    train(config, tmp_path / model, quiet=True)
    ratios = [r["doctor/diversity"] for r in read_metrics(tmp_path / model / "metrics.jsonl") if "loss/D" in r]
    assert len(ratios) == 2 and all(0 < r < 10 for r in ratios)
