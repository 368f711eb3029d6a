"""The --d-arch / --g-arch backbones and the fully connected mlp-gan: what each adds to the model contract
(tests/models/test_models.py builds and differentiates every combination) — the D interface the stabilisers,
projection conditioning and the doctor reach into, the refusals, and a 2-step run of each from the CLI and Python."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

import ganforge
from ganforge.cli import main
from ganforge.config import TrainConfig
from ganforge.config.resolver import resolve_config
from ganforge.errors import GanforgeError
from ganforge.models import create_model
from ganforge.models.backbones import D_ARCHS
from ganforge.models.layers import apply_spectral_norm
from ganforge.recipes.gan import judges_samples_independently
from ganforge.training.d_input import DiscriminatorInput

TINY = dict(latent_dim=8, g_width=4, d_width=4)
BACKBONES = [("dcgan", dict(d_arch=d)) for d in D_ARCHS] + [("mlp-gan", {})]


@pytest.fixture(scope="module", autouse=True)
def _one_thread(one_thread):
    with one_thread():
        yield


@pytest.mark.parametrize("name,arch", BACKBONES, ids=[a.get("d_arch", n) for n, a in BACKBONES])
def test_every_d_has_the_interface_the_stabilisers_and_the_doctor_use(name, arch):
    """Packed inputs (PacGAN), minibatch std before the head, the doctor's flattened features of packed clean
    inputs, and a feature vector as wide as `feature_dim` (what projection conditioning multiplies)."""
    torch.manual_seed(0)
    _, D = create_model(name, resolution=16, channels=1, minibatch_std=True, pack=2, **TINY, **arch)
    d_input = DiscriminatorInput(D.eval(), pack_size=2)
    images = torch.rand(6, 1, 16, 16) * 2 - 1
    assert d_input(images).shape == (3,)
    assert d_input.features(images).shape == (3, D.feature_dim)
    assert d_input.judge_each(images[:2]).shape == (2,)
    assert not judges_samples_independently(D)  # minibatch std mixes the batch: no joint real/fake pass


@pytest.mark.parametrize("name,arch", BACKBONES, ids=[a.get("d_arch", n) for n, a in BACKBONES])
def test_spectral_norm_reaches_every_layer_of_every_backbone(name, arch):
    _, D = create_model(name, resolution=16, channels=1, d_batchnorm=False, **TINY, **arch)
    layers = [m for m in D.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    apply_spectral_norm(D)
    assert layers and all(nn.utils.parametrize.is_parametrized(m, "weight") for m in layers)
    assert judges_samples_independently(D)  # no batch norm: real and fake judged in one pass
    D(torch.randn(3, 1, 16, 16)).sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in D.parameters())


@pytest.mark.parametrize("name,arch", [("conditional-dcgan", dict(d_arch=d)) for d in D_ARCHS] +
                         [("conditional-mlp-gan", {})], ids=[*D_ARCHS, "mlp-gan"])
def test_projection_discriminators_judge_each_image_by_its_label(name, arch):
    torch.manual_seed(0)
    G, D = create_model(name, resolution=16, channels=1, num_classes=3, **TINY, **arch)
    with torch.no_grad():
        D.embed.weight.normal_(0, 1)  # larger than the init, so the classes differ clearly
        images = G(torch.randn(3, 8), torch.tensor([0, 1, 2]))
        by_label = [D.eval()(images, torch.full((3,), c)) for c in range(3)]
    assert D.embed.weight.shape == (3, D.features(images).flatten(1).shape[1])
    assert not torch.allclose(by_label[0], by_label[1]) and not torch.allclose(by_label[1], by_label[2])


def test_the_residual_generator_upscales_by_nearest_neighbours_whatever_upsample_says():
    torch.manual_seed(0)
    G, _ = create_model("dcgan", resolution=32, channels=3, g_arch="resnet", upsample="subpixel", **TINY)
    torch.manual_seed(0)
    same, _ = create_model("dcgan", resolution=32, channels=3, g_arch="resnet", **TINY)
    z = torch.randn(2, 8)
    assert torch.equal(G(z), same(z)) and G(z).shape == (2, 3, 32, 32)
    assert not any(isinstance(m, nn.ConvTranspose2d) for m in G.modules())


@pytest.mark.parametrize("d_arch", ["pool", "resnet", "inception"])
def test_backbones_take_non_square_images(d_arch):
    G, D = create_model("dcgan", resolution=16, channels=3, aspect="2:1", d_arch=d_arch, g_arch="resnet", **TINY)
    images = G(torch.randn(2, 8))
    assert images.shape == (2, 3, 16, 32) and D(images).shape == (2,)


@pytest.mark.parametrize(("settings", "message"), [
    (dict(model="fastgan", d_arch="resnet"), "--d-arch resnet: not available for --model fastgan; --d-arch chooses "
                                             "the networks of --model dcgan"),
    (dict(model="mlp-gan", g_arch="resnet"), "--g-arch resnet: not available for --model mlp-gan"),
    (dict(model="pix2pix", data="edges2digits", d_arch="vgg"), "--d-arch vgg: not available for --model pix2pix"),
    (dict(d_arch="resnt"), "--d-arch must be one of dcgan, pool, resnet, vgg, inception, got 'resnt'"),
    (dict(model="mlp-gan", resolution=128), "--model mlp-gan is fully connected and goes up to 64 px"),
    (dict(model="mlp-gan", upsample="nearest"), "--upsample nearest: not available for --model mlp-gan"),
    (dict(model="mlp-gan", conditional=True, pack=2), "--pack: not available for --model mlp-gan --conditional"),
])
def test_settings_a_model_cannot_build_are_refused_by_name(settings, message):
    with pytest.raises(GanforgeError, match=message):
        resolve_config({"data": "digits", **settings}, images=1797)


def test_the_recommended_preset_gives_mlp_gan_what_it_takes():
    """The digits' recommended recipe brings nearest upscaling (refused by a G without upscaling layers) and
    InfoGAN categories (a dcgan setting): neither reaches mlp-gan, which keeps its own widths."""
    config = resolve_config({"data": "digits", "model": "mlp-gan", "preset": "recommended"}, images=1797)
    assert (config.upsample, config.latent_classes, config.spectral_norm, config.loss) == ("transpose", 0, True,
                                                                                           "hinge")
    assert (config.g_width, config.d_width, config.d_batchnorm) == (256, 256, False)


# 2-step runs: every backbone from the CLI, each with a stabiliser that reaches into D
RUNS = [
    dict(d_arch="pool", spectral_norm=True),
    dict(d_arch="vgg", minibatch_std=True),
    dict(d_arch="resnet", g_arch="resnet", pack=2, augment="fixed", augment_p=0.5),
    dict(d_arch="inception", latent_classes=3),
    dict(g_arch="resnet", d_arch="resnet", conditional=True, minibatch_std=True),
    dict(d_arch="inception", conditional=True, spectral_norm=True),
    dict(model="mlp-gan", spectral_norm=True, pack=2, minibatch_std=True),
    dict(model="mlp-gan", conditional=True),
]


def _flags(settings: dict) -> list[str]:
    argv = []
    for key, value in settings.items():
        flag = "--" + key.replace("_", "-").replace("total-steps", "steps")
        argv += [flag] if value is True else [flag, str(value)]
    return argv


@pytest.mark.parametrize("settings", RUNS, ids=lambda s: "-".join(f"{k}={v}" for k, v in s.items()))
def test_each_backbone_trains_two_steps_from_the_cli_and_samples(settings, tmp_path):
    run = tmp_path / "run"
    base = dict(data="digits", resolution=16, latent_dim=8, g_width=4, d_width=4, batch_size=4, total_steps=2,
                log_every=1, sample_every=2, checkpoint_every=2, sample_count=4, device="cpu", seed=0)
    assert main(["train", *_flags({**base, **settings}), "--out", str(run), "--quiet"]) == 0
    saved = TrainConfig.from_saved((run / "config.json").read_text())
    for key, value in settings.items():
        assert getattr(saved, key) == value
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == [1, 2] and all(torch.isfinite(torch.tensor(m["loss/D"])) for m in metrics)
    assert metrics[-1]["doctor/diversity"] > 0  # the doctor compares D's features of fakes and reals
    model = ganforge.load(run)
    images = model.sample(3, seed=0, **({"labels": "1"} if settings.get("conditional") else {}))
    assert images.shape == (3, 1, 16, 16) and torch.equal(images, model.sample(3, seed=0, **(
        {"labels": "1"} if settings.get("conditional") else {})))


def test_python_and_the_cli_train_the_residual_pair_alike(tmp_path):
    settings = dict(data="digits", model="dcgan", d_arch="resnet", g_arch="resnet", resolution=16, g_width=4,
                    d_width=4, batch_size=4, total_steps=1, sample_count=4, device="cpu", seed=0)
    result = ganforge.train(out=tmp_path / "python", quiet=True, **settings)
    assert main(["train", *_flags(settings), "--out", str(tmp_path / "cli"), "--quiet"]) == 0
    assert (result.out_dir / "config.json").read_text() == (tmp_path / "cli" / "config.json").read_text()
    python, cli = (torch.load(p / "checkpoints" / "latest.pt", weights_only=True) for p in (result.out_dir,
                                                                                             tmp_path / "cli"))
    assert python["model_args"]["d_arch"] == python["model_args"]["g_arch"] == "resnet"
    assert all(torch.equal(v, cli["G"][k]) for k, v in python["G"].items())
