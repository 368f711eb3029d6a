"""The recipe interface: chosen from the config, and the unconditional checkpoint format unchanged."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from ganforge.checkpoint import load_checkpoint
from ganforge.config import TrainConfig
from ganforge.errors import GanforgeError
from ganforge.inference.sampling import load_generator
from ganforge.recipes import recipe_name
from ganforge.training.loop import train


def test_recipe_follows_model_and_conditional_flag() -> None:
    assert recipe_name(TrainConfig()) == "gan"
    assert recipe_name(TrainConfig(conditional=True)) == "conditional"
    assert recipe_name(TrainConfig(model="pix2pix")) == "pix2pix"
    assert recipe_name(TrainConfig(latent_classes=4)) == "infogan"
    with pytest.raises(GanforgeError, match="use --model dcgan --conditional"):
        recipe_name(TrainConfig(model="conditional-dcgan"))


def test_unconditional_checkpoint_keeps_its_keys(tiny_config: TrainConfig, tmp_path: Path) -> None:
    config = dataclasses.replace(tiny_config, total_steps=1, ema_beta=0.9, log_every=50, sample_every=50)
    result = train(config, tmp_path / "run", quiet=True)
    state = load_checkpoint(result.checkpoint)
    assert state["recipe"] == "gan" and state["model"] == "dcgan"
    assert set(state["model_args"]) == {"resolution", "channels", "latent_dim", "g_width", "d_width", "d_batchnorm",
                                        "upsample"}
    assert {"G", "D", "G_ema", "opt_G", "opt_D", "step", "data_position", "rng", "config"} <= set(state)
    assert "class_names" not in state
    loaded = load_generator(tmp_path / "run")
    assert loaded.latent_dim == 8 and not loaded.conditional


def test_random_crop_outside_pix2pix_is_refused(tiny_config: TrainConfig, tmp_path: Path) -> None:
    with pytest.raises(GanforgeError, match="--random-crop: a setting of --model pix2pix"):
        train(dataclasses.replace(tiny_config, random_crop=True), tmp_path / "run", quiet=True)


def test_the_data_set_goes_to_a_device_once(tiny_config: TrainConfig) -> None:
    """The training stream and the doctor's batches share one device copy (a GPU held three before)."""
    import torch

    from ganforge.data.dataset import ImageDataset
    from ganforge.recipes import Recipe

    images = torch.zeros(4, 16, 16, 1, dtype=torch.uint8)
    recipe = Recipe(tiny_config, ImageDataset(images, name="zeros"))
    meta = torch.device("meta")  # a device other than the CPU, available everywhere
    first = recipe.on_device(images, meta)
    assert first.device == meta and recipe.on_device(images, meta) is first
    streams = [recipe.batches(meta, 2, seed) for seed in (0, 3)]
    assert all(stream.images is first for stream in streams)


def test_every_registered_recipe_names_itself_and_gives_its_networks_and_step() -> None:
    """The contract over the registry: `model_args` and `make_step` are each recipe's own; every hook of the base
    class says in its docstring what it is for."""
    from ganforge.recipes import RECIPES, Recipe, recipe_for

    recipe_for(TrainConfig())  # registers them all
    assert {"gan", "conditional", "infogan", "pix2pix", "points", "msg", "progressive", "fastgan"} <= set(RECIPES)
    for name in RECIPES:
        recipe = RECIPES.get(name)
        assert recipe.name == name and issubclass(recipe, Recipe)
        assert recipe.model_args is not Recipe.model_args and recipe.make_step is not Recipe.make_step, name
    hooks = [n for n, v in vars(Recipe).items() if callable(v) or isinstance(v, staticmethod)]
    assert all((getattr(Recipe, n).__doc__ or "").strip() for n in hooks if not n.startswith("_"))
