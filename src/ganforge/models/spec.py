"""What a model says about itself: the settings it trains best with, the options it takes or refuses,
which recipe trains it and a tiny example of its inputs. The config's validation asks these, so no
list of model names is kept anywhere else (config/train_config.py, config/resolver.py)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch


@dataclass(frozen=True)
class ModelSpec:
    name: str  # the registry key: the same in --model, config.json and checkpoints
    summary: str  # one line for --help
    recipe: str = "gan"  # the recipe that trains it (recipes/)
    pickable: bool = True  # offered by --model; False for variants the settings choose (e.g. by --conditional)
    instead: str = ""  # for a variant that is not pickable: the flags that choose it
    points: bool = False  # a model of 2D points: no resolution, channels or images
    defaults: Mapping[str, Any] = field(default_factory=dict)  # settings it trains best with, for those not given
    own_settings: tuple[str, ...] = ()  # settings it decides itself: a preset's values for them do not apply
    relativistic: bool = False  # takes the relativistic losses (losses/relativistic.py) beside the plain ones
    refuses: tuple[str, ...] = ()  # options it cannot use: "field" (refused when set) or "field=value"
    supports: str = ""  # what it offers instead, ending the message that refuses an option
    conditional: str = ""  # the registered model that --conditional trains ("": none)
    aspect: bool = False  # trains on non-square images (--aspect)
    sections: tuple[str, ...] = ()  # the config's optional sections it uses: evaluation, pix2pix, progressive, ...
    small_data_from: int = 0  # picked when no --model is given for a small data set at this resolution and up
    inputs: str = "latent"  # G's input: latent (z), latent+labels (z, class) or image
    example_args: Mapping[str, Any] = field(default_factory=dict)  # builder arguments of a tiny model (tests)
    check: Callable[[Any], None] | None = None  # checks of the settings only this model knows (takes the config)
    scored_by: str = ""  # how its runs are scored when --eval-every (noise-to-image scores) does not apply

    def refused(self, option: str, value: Any, unset: Any) -> bool:
        """Whether the setting `option` with this value is refused; `unset` is its value when off."""
        for entry in self.refuses:
            name, _, refused_value = entry.partition("=")
            if name == option and (str(value) == refused_value if refused_value else value != unset):
                return True
        return False

    def example_inputs(self, batch: int = 3, seed: int = 0) -> tuple[torch.Tensor, ...]:
        """G's inputs for a model built with `example_args`, for contract tests."""
        generator = torch.Generator().manual_seed(seed)
        args = {"latent_dim": 100, **self.example_args}
        if self.inputs == "image":
            size = args["resolution"]
            return (torch.rand(batch, args["in_channels"], size, size, generator=generator) * 2 - 1,)
        z = torch.randn(batch, args["latent_dim"], generator=generator)
        if self.inputs == "latent+labels":
            return z, torch.arange(batch) % args["num_classes"]
        return (z,)


# What the models that bring their own D input share (msg, progressive, fastgan: recipes/highres.py): relativistic
# losses, their own architecture settings, and no D-input stabilisers applied from outside
OWN_D_INPUT: dict[str, Any] = dict(
    relativistic=True,
    own_settings=("loss", "spectral_norm", "d_batchnorm", "upsample"),
    refuses=("pack", "minibatch_std", "instance_noise", "r1_gamma", "label_smoothing", "spectral_norm",
             "augment=ada", "augment=fixed", "balance=skip", "balance=adaptive", "loss=wgan-gp"),
    supports="it supports --loss, --ema-beta, --d-steps and --balance fixed/ttur",
)
