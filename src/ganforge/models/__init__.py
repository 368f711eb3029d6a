"""Networks, built by name: `create_model("dcgan", resolution=64, channels=3)` -> (G, D).

Each model module registers a builder (keyword arguments -> a (generator, discriminator) pair of
plain `nn.Module`s) with its spec (models/spec.py) in models/registry.py. The same arguments are
stored in every checkpoint, so a checkpoint can rebuild its own networks.
"""

from ganforge.models.registry import (
    create_model,
    model_names,
    model_parameters,
    model_spec,
    model_specs,
    pickable_models,
)
from ganforge.models.spec import ModelSpec

__all__ = ["ModelSpec", "create_model", "model_names", "model_parameters", "model_spec", "model_specs",
           "pickable_models"]
