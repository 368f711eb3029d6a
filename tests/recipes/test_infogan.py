"""InfoGAN (--latent-classes, recipes/infogan.py): a categorical code read from a plain Gaussian latent, D's code
head, the mutual-information term in both stages, one grid row per category, and the flags it refuses."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from ganforge.errors import GanforgeError
from ganforge.inference.sampling import load_generator
from ganforge.models import create_model
from ganforge.models.dcgan import latent_category, latent_code_input, with_category
from ganforge.recipes import recipe_name
from ganforge.recipes.infogan import InfoGANRecipe
from ganforge.training.loop import Trainer, train

TINY = dict(resolution=16, channels=1, latent_dim=8, g_width=8, d_width=8)


def test_the_category_is_the_argmax_of_the_first_dims_and_reaches_g_as_one_hot():
    z = torch.randn(4000, 8, generator=torch.Generator().manual_seed(0))
    counts = torch.bincount(latent_category(z, 4), minlength=4)
    assert counts.min() > 900 and counts.max() < 1100  # uniform over the 4 categories
    code = latent_code_input(z[:5], 4)
    assert torch.equal(code[:, :4], torch.nn.functional.one_hot(latent_category(z[:5], 4), 4).float())
    assert torch.equal(code[:, 4:], z[:5, 4:])
    torch.manual_seed(0)
    G, _ = create_model("dcgan", latent_classes=4, **TINY)
    G.eval()
    other = z[:5].clone()
    other[:, :4] *= 3  # the same category, different values: G sees the same one-hot
    assert torch.allclose(G(z[:5]), G(other))


def test_with_category_sets_the_category_and_keeps_the_rest():
    z = torch.randn(6, 8, generator=torch.Generator().manual_seed(1))
    wanted = torch.tensor([0, 1, 2, 3, 0, 3])
    moved = with_category(z, wanted, 4)
    assert torch.equal(latent_category(moved, 4), wanted)
    assert torch.equal(moved[:, 4:], z[:, 4:])


def test_discriminator_code_head_shares_the_features_with_the_real_fake_head():
    torch.manual_seed(0)
    _, D = create_model("dcgan", latent_classes=5, **TINY)
    x = torch.randn(3, 1, 16, 16)
    logits, codes = D.forward_with_codes(x)
    assert logits.shape == (3,) and codes.shape == (3, 5)
    assert torch.equal(logits, D(x))
    _, plain = create_model("dcgan", **TINY)
    assert plain.code_head is None and not any("code_head" in k for k in plain.state_dict())


def test_d_learns_to_tell_the_categories_apart_and_g_keeps_them_distinct(tiny_config, tmp_path, one_thread):
    config = replace(tiny_config, latent_classes=3, total_steps=80, log_every=20, sample_every=1000,
                     checkpoint_every=1000, augment="off")
    with one_thread():
        train(config, tmp_path / "run", quiet=True)
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    accuracy = [r["info/accuracy"] for r in records if "info/accuracy" in r]
    assert accuracy[0] < 0.6 and accuracy[-1] > 0.9, accuracy  # from about chance (1/3) to telling them apart
    loaded = load_generator(tmp_path / "run" / "checkpoints" / "latest.pt")
    assert loaded.G.latent_classes == 3


def test_sample_grid_has_one_row_per_category(tiny_config, tmp_path):
    config = replace(tiny_config, latent_classes=4, sample_count=12)
    trainer = Trainer(config, tmp_path / "run", quiet=True)
    assert isinstance(trainer.recipe, InfoGANRecipe)
    z = trainer.sample_inputs["z"]
    assert torch.equal(latent_category(z, 4), torch.arange(4).repeat_interleave(3))
    images, per_row = trainer.recipe.sample_grid(trainer.G.eval(), trainer.sample_inputs)
    assert images.shape[0] == 12 and per_row == 3  # fewer than 4 per category: categories in reading order
    many = Trainer(replace(config, sample_count=16), tmp_path / "many", quiet=True)
    assert many.recipe.sample_grid(many.G.eval(), many.sample_inputs)[1] == 4  # a row per category


@pytest.mark.parametrize("change, message", [
    (dict(conditional=True), "--latent-classes: a setting of --model dcgan, not of --model dcgan --conditional"),
    (dict(pack=2), "drop --pack"),
    (dict(latent_classes=8), "below --latent-dim"),
    (dict(latent_classes=1), "at least 2"),
])
def test_latent_classes_refuses_what_cannot_work(tiny_config, change, message):
    config = replace(tiny_config, **{"latent_classes": 4, **change})
    with pytest.raises(GanforgeError, match=message):
        config.validate()


def test_sample_draws_a_chosen_latent_category_and_refuses_class(tiny_config, tmp_path, capsys):
    """A latent category is asked for with --category; --class (a labelled class) is refused on an InfoGAN run,
    pointing to --category, since category 7 is whatever G made of it and not the digit 7."""
    from ganforge.cli import main

    run = str(tmp_path / "run")
    train(replace(tiny_config, latent_classes=4, total_steps=2), tmp_path / "run", quiet=True)
    assert main(["sample", run, "-n", "3", "--category", "2", "-o", str(tmp_path / "s.npy")]) == 0
    assert np.load(tmp_path / "s.npy").shape == (3, 16, 16, 1)
    assert main(["sample", run, "-n", "3", "--category", "2", "--category", "0", "-o", str(tmp_path / "two.npy")]) == 0
    assert np.load(tmp_path / "two.npy").shape == (6, 16, 16, 1)  # one row per category named
    capsys.readouterr()
    assert main(["sample", run, "-n", "3", "--category", "9", "-o", str(tmp_path / "t.npy")]) == 2
    assert "--category 9: no such category; this run has categories 0 to 3" in capsys.readouterr().err
    assert main(["sample", run, "-n", "3", "--class", "2", "-o", str(tmp_path / "u.npy")]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "not labelled classes; pick one with --category K (0 to 3)" in err
    assert not (tmp_path / "u.npy").exists()


def test_category_is_refused_where_there_are_no_latent_categories(tiny_config, conditional_trained_run, tmp_path,
                                                                   capsys):
    from ganforge.cli import main

    train(replace(tiny_config, total_steps=1), tmp_path / "plain", quiet=True)
    assert main(["sample", str(tmp_path / "plain"), "--category", "1", "-o", str(tmp_path / "p.png")]) == 2
    assert "has no latent categories (they come from training with --latent-classes K)" in capsys.readouterr().err
    assert main(["sample", str(conditional_trained_run), "--category", "1", "-o", str(tmp_path / "c.png")]) == 2
    assert "class-conditional and has labelled classes; pick one with --class" in capsys.readouterr().err


def test_checkpoints_record_the_data_share_of_each_category_without_touching_d(tiny_config, tmp_path):
    """The prior is the share of the training images (all of them when there are at most 2,048) that D's category
    head assigns to each category, computed in eval mode: D's weights, spectral-norm vectors and train mode are
    left as they were."""
    from ganforge.images import from_uint8

    config = replace(tiny_config, latent_classes=4, spectral_norm=True, d_batchnorm=False, total_steps=6)
    trainer = Trainer(config, tmp_path / "run", quiet=True)
    trainer.run()
    before = {k: v.clone() for k, v in trainer.D.state_dict().items()}
    prior = trainer.state_dict()["category_prior"]
    assert trainer.D.training
    for key, value in trainer.D.state_dict().items():
        assert torch.equal(value, before[key]), key
    trainer.D.eval()
    with torch.no_grad():
        codes = trainer.D.forward_with_codes(from_uint8(trainer.dataset.images).contiguous(
            memory_format=torch.channels_last))[1]
    assert len(prior) == 4 and sum(prior) == pytest.approx(1.0)
    torch.testing.assert_close(torch.tensor(prior), torch.bincount(codes.argmax(1), minlength=4) / len(codes))


def test_sampling_draws_categories_in_the_recorded_proportions(tiny_config, tmp_path, monkeypatch):
    """With a recorded prior, `ganforge sample` draws categories by it (here all category 2); without one
    (older checkpoints), the category stays the argmax of the Gaussian latent, as in training."""
    import ganforge.inference.sampling as sampling

    train(replace(tiny_config, latent_classes=4, total_steps=2), tmp_path / "run", quiet=True)
    assert len(load_generator(tmp_path / "run" / "checkpoints" / "latest.pt").category_prior) == 4
    drawn = []
    monkeypatch.setattr(sampling, "generate", lambda G, z: drawn.append(z) or G(z))
    loaded = replace(load_generator(tmp_path / "run" / "checkpoints" / "latest.pt"), category_prior=[0, 0, 1, 0])
    sampling.sample_images(loaded, 50, seed=3)
    assert torch.equal(latent_category(drawn[-1], 4), torch.full((50,), 2))
    sampling.sample_images(replace(loaded, category_prior=None), 50, seed=3)
    assert torch.equal(drawn[-1], sampling.latents(50, loaded.latent_dim, 3))


def test_interpolation_and_web_page_walks_follow_the_recorded_categories(tiny_config, tmp_path, monkeypatch):
    """With a recorded prior (here all category 2), `ganforge interpolate`'s key points and the web page's walk ends
    take their categories by it, like `ganforge sample` (the export: test_export.py)."""
    from types import SimpleNamespace

    import ganforge.inference.sampling as sampling
    import ganforge.serve.runs as served

    train(replace(tiny_config, latent_classes=4, total_steps=2), tmp_path / "run", quiet=True)
    checkpoint = tmp_path / "run" / "checkpoints" / "latest.pt"
    loaded = replace(load_generator(checkpoint), category_prior=[0, 0, 1, 0])
    drawn = []
    record = lambda G, z, labels=None: drawn.append(z) or G(z)  # noqa: E731
    monkeypatch.setattr(sampling, "generate", record)
    monkeypatch.setattr(served, "generate", record)
    sampling.interpolation_frames(loaded, walks=3, points=2, frames_per_leg=1, seed=0)  # frames = the key points
    assert len(drawn) == 2 and all(torch.equal(latent_category(z, 4), torch.full((3,), 2)) for z in drawn)
    served.interpolation_gif(SimpleNamespace(generator=lambda use_ema: loaded), 5, 6, 2, 1.0, True, tmp_path)
    assert torch.equal(latent_category(drawn[-1], 4), torch.full((2,), 2))  # the walk's two ends


# G's weights after 5 steps of `ganforge train --data digits --preset recommended --steps 5` at the settings below
# (one thread), summed, as the GAN step computed them before InfoGAN became its own recipe. Bit for bit on the CPU
# that recorded it; other CPUs' fp32 kernels round differently (5.7e-7 off on a Xeon with AMX), while any change
# to the recipe's arithmetic moves the sum by far more than the tolerance below.
DIGITS_RECOMMENDED_G_SUM = 99.65804946389801
OTHER_CPU_ROUNDING = 1e-5


def test_the_digits_recipe_trains_as_it_did_before_it_was_its_own_recipe(tmp_path, one_thread):
    from ganforge.checkpoint import load_checkpoint
    from ganforge.config import resolve_config

    config = resolve_config({"data": "digits", "preset": "recommended", "total_steps": 5, "g_width": 8, "d_width": 8,
                              "batch_size": 8, "sample_count": 4, "log_every": 2, "sample_every": 100,
                              "checkpoint_every": 100, "device": "cpu", "precision": "fp32", "seed": 0})
    assert config.latent_classes == 40 and recipe_name(config) == "infogan"
    with one_thread():
        result = train(config, tmp_path / "run", quiet=True)
    state = load_checkpoint(result.checkpoint)
    assert state["recipe"] == "infogan" and state["model_args"]["latent_classes"] == 40
    assert "code_head.bias" in state["D"]  # the keys older InfoGAN checkpoints hold
    g_sum = float(sum(v.double().sum() for v in state["G"].values()))
    assert g_sum == pytest.approx(DIGITS_RECOMMENDED_G_SUM, rel=0, abs=OTHER_CPU_ROUNDING)
    assert len(state["category_prior"]) == 40 and sum(state["category_prior"]) == pytest.approx(1.0)


def test_a_checkpoint_of_the_gan_recipe_with_latent_classes_still_loads_and_resumes(tiny_config, tmp_path):
    """Runs made while InfoGAN was part of the GAN recipe saved recipe "gan" with latent_classes in model_args."""
    from ganforge.checkpoint import load_checkpoint, save_checkpoint

    config = replace(tiny_config, latent_classes=4, total_steps=2)
    checkpoint = train(config, tmp_path / "run", quiet=True).checkpoint
    state = load_checkpoint(checkpoint)
    save_checkpoint(checkpoint, {**state, "recipe": "gan"})
    assert load_generator(checkpoint).latent_classes == 4
    assert train(replace(config, total_steps=3), tmp_path / "run", resume=True, quiet=True).step == 3
