"""The model registry: each model module registers its builder together with its spec.

`create_model("dcgan", resolution=64, channels=3)` -> (G, D). Every module of this package is imported
on first use, so a new model is found from its own file alone.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable
from typing import Any

from torch import nn

from ganforge.errors import GanforgeError
from ganforge.models.spec import ModelSpec
from ganforge.registry import Registry

Builder = Callable[..., tuple[nn.Module, nn.Module]]
MODELS: Registry[Builder] = Registry("model")
SPECS: Registry[ModelSpec] = Registry("model")
_loaded = False


def register(spec: ModelSpec) -> Callable[[Builder], Builder]:
    """Decorator for a builder (keyword arguments -> (G, D)), registered under spec.name with its spec."""

    def decorator(builder: Builder) -> Builder:
        SPECS.register(spec.name)(spec)
        return MODELS.register(spec.name)(builder)

    return decorator


def _load_models() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        package = importlib.import_module("ganforge.models")
        for module in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"ganforge.models.{module.name}")


def create_model(name: str, **kwargs: Any) -> tuple[nn.Module, nn.Module]:
    _load_models()
    return MODELS.get(name)(**kwargs)


def model_names() -> list[str]:
    """Every registered model, those chosen by other settings (conditional-dcgan) included."""
    _load_models()
    return MODELS.names()


def model_specs() -> list[ModelSpec]:
    _load_models()
    return [SPECS.get(name) for name in SPECS.names()]


def pickable_models() -> list[str]:
    """The names --model offers: image models first, then the 2D point ones."""
    return [s.name for s in sorted(model_specs(), key=lambda s: (s.points, s.name)) if s.pickable]


def describe_pickable() -> str:
    images = [s.name for s in model_specs() if s.pickable and not s.points]
    points = [s.name for s in model_specs() if s.pickable and s.points]
    return f"{', '.join(images)} (images)" + (f"; {', '.join(points)} (2D points)" if points else "")


def model_spec(name: str) -> ModelSpec:
    """The spec of a registered model; an unknown name lists the models a user can pick."""
    _load_models()
    if name not in SPECS:
        import difflib

        close = difflib.get_close_matches(str(name), pickable_models(), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise GanforgeError(f"--model: unknown model {name!r}.{hint} Choose from: {describe_pickable()}")
    return SPECS.get(name)


def model_parameters(name: str) -> list[str]:
    """The keyword arguments a registered model's builder takes."""
    _load_models()
    return list(inspect.signature(MODELS.get(name)).parameters)
