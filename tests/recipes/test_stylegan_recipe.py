"""The style-based GAN's training: defaults and refusals, lazy R1's gamma, path length, resume, export."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from ganforge.checkpoint import load_checkpoint
from ganforge.config import TrainConfig, resolve_config
from ganforge.errors import GanforgeError
from ganforge.inference.export import export_generator
from ganforge.inference.sampling import latents, load_generator
from ganforge.models import create_model
from ganforge.recipes.stylegan import PathLength, r1_gamma_for
from ganforge.training.loop import train


@pytest.fixture
def stylegan_config() -> TrainConfig:
    """Resolved, so `replace` keeps the model's own defaults (a hand-made config given every field would not)."""
    return resolve_config(dict(model="stylegan", data="digits", resolution=16, channels=1, latent_dim=8, g_width=4,
                               d_width=4, batch_size=8, total_steps=4, log_every=2, sample_every=2,
                               checkpoint_every=2, sample_count=4, precision="fp32", device="cpu", seed=0,
                               ema_beta=0.9, r1_every=2, pl_weight=2.0))


def test_defaults_and_refusals():
    config = resolve_config({"model": "stylegan", "data": "digits"})
    assert (config.loss, config.lr_g, config.beta1, config.beta2) == ("nonsat", 0.0025, 0.0, 0.99)
    assert (config.mapping_layers, config.style_mixing, config.pl_weight) == (2, 0.9, 0.0)
    assert "stylegan" in config.to_dict()
    for bad in ({"minibatch_std": True}, {"spectral_norm": True}, {"pack": 2}, {"loss": "wgan-gp"},
                {"loss": "rpgan"}, {"mapping_layers": 9}, {"style_mixing": 1.5}, {"conditional": True}):
        with pytest.raises(GanforgeError):
            resolve_config({"model": "stylegan", "data": "digits", **bad})
    with pytest.raises(GanforgeError, match="--mapping-layers"):
        resolve_config({"model": "dcgan", "data": "digits", "mapping_layers": 4})
    assert resolve_config({"model": "stylegan", "data": "shapes", "aspect": "2:1"}).aspect == "2:1"


def test_r1_gamma_follows_the_resolution_unless_given():
    config = resolve_config({"model": "stylegan", "data": "digits", "resolution": 64, "batch_size": 32})
    assert r1_gamma_for(config) == pytest.approx(0.0002 * 64 * 64 / 32)
    assert r1_gamma_for(replace(config, r1_gamma=5.0)) == 5.0


def test_path_length_penalty_is_finite_tracks_its_mean_and_reaches_g():
    torch.manual_seed(0)
    G, _ = create_model("stylegan", resolution=16, channels=1, latent_dim=8, g_width=4, d_width=4)
    pl = PathLength(weight=2.0)
    penalty = pl(G, torch.randn(8, 8))
    assert torch.isfinite(penalty) and pl.mean > 0
    penalty.backward()
    assert G.synthesis.layers[0].conv.weight.grad.abs().sum() > 0
    assert pl.due() and not PathLength(0.0).due()


def test_a_run_trains_logs_its_penalties_and_resumes_exactly(stylegan_config, tmp_path):
    """Style mixing, per-pixel noise, lazy R1 and path length all draw from the run's random stream, which the
    checkpoint holds: a run stopped at step 2 and resumed ends where an uninterrupted one does."""
    train(stylegan_config, tmp_path / "straight", quiet=True)
    train(replace(stylegan_config, total_steps=2), tmp_path / "stopped", quiet=True)
    train(stylegan_config, tmp_path / "stopped", resume=True, quiet=True)
    straight, resumed = load_checkpoint(tmp_path / "straight"), load_checkpoint(tmp_path / "stopped")
    assert straight["recipe"] == "stylegan" and straight["recipe_state"]["pl_updates"] == 4
    for part in ("G", "D", "G_ema"):
        for key, value in straight[part].items():
            assert torch.equal(value, resumed[part][key]), f"{part}.{key} differs after resume"
    assert resumed["recipe_state"] == straight["recipe_state"]
    assert torch.count_nonzero(straight["G_ema"]["w_avg"]) > 0  # the EMA copy carries the tracked mean w
    text = (tmp_path / "straight" / "metrics.jsonl").read_text()
    assert "loss/D_penalty" in text and "stylegan/path_length" in text


@pytest.fixture(scope="module")
def stylegan_run(tmp_path_factory):
    config = TrainConfig(model="stylegan", data="digits", resolution=16, channels=1, latent_dim=8, g_width=4,
                         d_width=4, batch_size=8, total_steps=2, log_every=1, sample_every=2, checkpoint_every=2,
                         sample_count=4, precision="fp32", device="cpu", seed=0, ema_beta=0.9)
    return train(config, tmp_path_factory.mktemp("runs") / "stylegan", quiet=True).out_dir


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_export_matches_pytorch_at_batch_1_and_5(stylegan_run, tmp_path, fmt):
    if fmt == "onnx":
        pytest.importorskip("onnxruntime")
    result = export_generator(stylegan_run, tmp_path / ("g.onnx" if fmt == "onnx" else "g.pt"))
    assert result.batches == (1, 5) and result.max_abs_diff < 1e-4
    loaded = load_generator(stylegan_run)
    z = latents(5, loaded.latent_dim, 7)
    with torch.no_grad():
        expected = loaded.G(z).numpy()
    if fmt == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(str(result.path), providers=["CPUExecutionProvider"])
        got = session.run(None, {"z": z.numpy()})[0]
    else:
        with torch.no_grad():
            got = torch.jit.load(str(result.path))(z).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-4)
