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


def create_model(name: str, **kwargs: Any) -> tuple[nn.Module, nn.Module]:
    from ganforge.models import conditional, dcgan, fastgan, msg, pix2pix, progressive  # noqa: F401  (register them)

    return MODELS.get(name)(**kwargs)


def model_names() -> list[str]:
    from ganforge.models import conditional, dcgan, fastgan, msg, pix2pix, progressive  # noqa: F401

    return MODELS.names()
