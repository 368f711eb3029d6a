"""Networks, built by name: `create_model("dcgan", resolution=64, channels=3)` -> (G, D).

Each registered builder takes the model's keyword arguments and returns a (generator,
discriminator) pair of plain `nn.Module`s. The same arguments are stored in every checkpoint,
so a checkpoint can rebuild its own networks.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from ganforge.registry import Registry

MODELS: Registry = Registry("model")
POINT_MODELS = ("mlp",)  # models of 2D points: no resolution or channels


def create_model(name: str, **kwargs: Any) -> tuple[nn.Module, nn.Module]:
    from ganforge.models import conditional, dcgan, fastgan, mlp, msg, pix2pix, progressive  # noqa: F401  (register them)

    return MODELS.get(name)(**kwargs)


def model_names() -> list[str]:
    from ganforge.models import conditional, dcgan, fastgan, mlp, msg, pix2pix, progressive  # noqa: F401

    return MODELS.names()


def model_parameters(name: str) -> list[str]:
    """The keyword arguments a registered model's builder takes."""
    import inspect

    model_names()  # registers the built-in models
    return list(inspect.signature(MODELS.get(name)).parameters)
