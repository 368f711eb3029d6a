"""Recipes: what differs between a noise-to-image GAN, a class-conditional GAN, InfoGAN, pix2pix, ...

The generic loop (training/loop.py) owns iteration, EMA, logging, samples, checkpoints and resume. A
recipe says which data and networks to build, what one training step is (its step object), what
the fixed sample grid shows, and what it adds to the checkpoint beside the loop's own keys. The base
class and the registry are in recipes/base.py; a new recipe is a module here that registers itself.
"""

from __future__ import annotations

from ganforge.config import TrainConfig
from ganforge.recipes.base import RECIPES, Recipe, Step, StepParts, step_stats, update

__all__ = ["RECIPES", "Recipe", "Step", "StepParts", "recipe_for", "recipe_name", "step_stats", "update"]


def recipe_name(config: TrainConfig) -> str:
    """The recipe the run's model names in its spec (--conditional picks the model's conditional variant); a GAN
    with latent categories (--latent-classes) is InfoGAN's."""
    from ganforge.config.checks import spec_for

    recipe = spec_for(config).recipe
    return "infogan" if recipe == "gan" and config.latent_classes else recipe


def recipe_for(config: TrainConfig) -> type[Recipe]:
    from ganforge.recipes import gan, highres, infogan, pix2pix, points, r3gan, stylegan, unpaired  # noqa: F401 (register)

    return RECIPES.get(recipe_name(config))
