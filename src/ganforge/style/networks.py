"""The feature networks style transfer can use, and the choice between them ("auto" falls back, loudly)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from torch import nn

from ganforge.errors import GanforgeError
from ganforge.registry import Registry
from ganforge.style.random_features import LAYER_NAMES as RANDOM_LAYERS
from ganforge.style.random_features import RandomFeatures
from ganforge.style.vgg import LAYER_NAMES as VGG_LAYERS
from ganforge.style.vgg import WeightsUnavailable, build_vgg19, ensure_cached


@dataclass(frozen=True)
class FeatureNet:
    """A network's layer names, its default loss layers and how to build it cut after a given layer."""

    layer_names: tuple[str, ...]
    content_layers: tuple[str, ...]
    style_layers: tuple[str, ...]
    build: Callable[..., nn.Module]  # (last_layer, weights, download) -> frozen module in eval mode


def _build_random(last_layer: str, weights: str | None = None, download: bool = True) -> nn.Module:
    return RandomFeatures(last_layer).eval().requires_grad_(False)


FEATURE_NETS: Registry[FeatureNet] = Registry("feature network")
FEATURE_NETS.register("vgg19")(FeatureNet(
    tuple(VGG_LAYERS), ("relu4_2",), ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"), build_vgg19))
FEATURE_NETS.register("random")(FeatureNet(
    tuple(RANDOM_LAYERS), ("scale2",), tuple(RANDOM_LAYERS), _build_random))


def choose_features(kind: str, weights: str | None, download: bool, notify: Callable[[str], None]) -> str:
    """'auto' -> 'vgg19' when its weights can be had, else 'random' (saying so and how to get VGG19)."""
    if kind != "auto":
        return kind
    if weights is not None:
        return "vgg19"
    try:
        ensure_cached(download)
        return "vgg19"
    except WeightsUnavailable as err:
        notify(f"note: using random features (--features random), lower quality than VGG19. {err}")
        return "random"


def build_features(kind: str, layers: Sequence[str], weights: str | None = None,
                   download: bool = True) -> nn.Module:
    """The network `kind`, cut after the last of `layers` (nothing later is ever computed)."""
    spec = FEATURE_NETS.get(kind)
    for name in layers:
        if name not in spec.layer_names:
            raise GanforgeError(f"{kind} has no layer {name!r}; its layers are {', '.join(spec.layer_names)}")
    last = max(layers, key=spec.layer_names.index)
    return spec.build(last, weights, download)
