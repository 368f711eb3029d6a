"""The same code on a CUDA GPU: every recipe and precision trains, resumes and samples there.

Skipped where no GPU is visible (CI); run on a GPU machine with `pytest tests/training/test_cuda.py`. The CPU
suite cannot catch a tensor left on the host beside device tensors: these tests did (augment p).
"""

from __future__ import annotations

import json
import os
from dataclasses import replace

import pytest
import torch

from ganforge.checkpoint import load_checkpoint
from ganforge.inference.sampling import generate, latents, load_generator
from ganforge.training.loop import train

DEVICE = os.environ.get("GANFORGE_TEST_DEVICE", "cuda")  # =cpu: a dry run of these tests without a GPU
pytestmark = pytest.mark.skipif(DEVICE == "cuda" and not torch.cuda.is_available(), reason="needs a CUDA GPU")


def _losses_finite(run) -> bool:
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    values = [r[k] for r in records for k in ("loss/D", "loss/G") if k in r]
    return bool(values) and all(v is not None and abs(v) < float("inf") for v in values)


@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
@pytest.mark.parametrize("extra", [
    dict(augment="ada", ema_beta=0.99),  # host-side augment p beside device losses
    dict(balance="skip", loss="hinge", spectral_norm=True, r1_gamma=1.0, r1_every=2),
    dict(conditional=True),
    dict(d_steps=2, upsample="subpixel", latent_classes=4, info_weight=0.5),  # D-only steps, InfoGAN head
])
def test_dcgan_recipes_train_resume_and_sample_on_cuda(tiny_config, tmp_path, precision, extra):
    config = replace(tiny_config, device=DEVICE, precision=precision, total_steps=4, log_every=1, **extra)
    run = tmp_path / "run"
    train(replace(config, total_steps=2), run, quiet=True)
    train(config, run, resume=True, quiet=True)
    assert load_checkpoint(run)["step"] == 4 and _losses_finite(run)
    loaded = load_generator(run / "checkpoints" / "latest.pt")
    labels = torch.arange(3) % 10 if extra.get("conditional") else None
    images = generate(loaded.G, latents(3, loaded.latent_dim, 0), labels=labels)
    assert images.shape == (3, 1, 16, 16) and torch.isfinite(images).all()


@pytest.mark.parametrize("model", ["msg", "progressive", "fastgan"])
def test_highres_models_train_on_cuda(tiny_config, tmp_path, model):
    config = replace(tiny_config, device=DEVICE, precision="bf16", model=model, resolution=32, channels=3,
                     data="shapes", total_steps=3, log_every=1, g_width=4, d_width=4, loss="rahinge")
    train(config, tmp_path / "run", quiet=True)
    assert _losses_finite(tmp_path / "run")


def test_pix2pix_trains_on_cuda(tiny_config, tmp_path):
    config = replace(tiny_config, device=DEVICE, precision="bf16", model="pix2pix", data="edges2digits",
                     resolution=32, channels=None, patch_size=16, batch_size=4, total_steps=3, log_every=1,
                     g_width=4, d_width=4)
    train(config, tmp_path / "run", quiet=True)
    assert _losses_finite(tmp_path / "run")


def test_points_train_on_cuda(tmp_path):
    from ganforge.config import TrainConfig

    config = TrainConfig(data="ring", model="mlp", device=DEVICE, total_steps=5, log_every=1, sample_every=1000, seed=0)
    train(config, tmp_path / "run", quiet=True)
    assert _losses_finite(tmp_path / "run")
