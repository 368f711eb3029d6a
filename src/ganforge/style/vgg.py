"""VGG19 in plain torch, loading torchvision's ImageNet weight file by its state-dict keys.

torchvision numbers the layers of `vgg19().features` 0..36 (conv, ReLU, ..., max-pool); we give the
same layers Gatys et al.'s names (conv1_1, relu1_1, ..., pool5) so the loss can ask for them by name.
The classifier is never built: style transfer only needs the convolutional features.
"""

from __future__ import annotations

import os
import urllib.error
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from ganforge.checkpoint import safe_torch_load
from ganforge.errors import GanforgeError

WEIGHTS_URL = "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"
WEIGHTS_FILE = "vgg19-dcbb9e9d.pth"
LAYOUT = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class WeightsUnavailable(GanforgeError):
    """No VGG19 weight file could be found or downloaded; the message says what to fetch and where."""


def layer_names() -> list[str]:
    """Names of torchvision's `features` layers in index order: conv1_1, relu1_1, conv1_2, ..., pool5."""
    names, block, index = [], 1, 1
    for item in LAYOUT:
        if item == "M":
            names.append(f"pool{block}")
            block, index = block + 1, 1
        else:
            names += [f"conv{block}_{index}", f"relu{block}_{index}"]
            index += 1
    return names


LAYER_NAMES = layer_names()


class VGG19Features(nn.Module):
    """VGG19's convolutional stack up to `last_layer`, taking images in [-1, 1] (ImageNet-normalised inside).

    Building only up to the last layer the loss uses is the cheapest speed-up there is: nothing after it
    is ever computed.
    """

    def __init__(self, last_layer: str = "pool5") -> None:
        super().__init__()
        if last_layer not in LAYER_NAMES:
            raise GanforgeError(f"unknown VGG19 layer {last_layer!r}; layers are {', '.join(LAYER_NAMES)}")
        names = LAYER_NAMES[: LAYER_NAMES.index(last_layer) + 1]
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        channels = 3
        widths = iter(w for w in LAYOUT if w != "M")
        for name in names:
            if name.startswith("conv"):
                width = next(widths)
                layers[name] = nn.Conv2d(channels, width, 3, padding=1)
                channels = width
            elif name.startswith("relu"):
                layers[name] = nn.ReLU()  # not in place: conv4_2's output is read before its ReLU
            else:
                layers[name] = nn.MaxPool2d(2, 2)
        self.layers = nn.Sequential(layers)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    @property
    def names(self) -> list[str]:
        return list(self.layers._modules)

    def forward(self, x: torch.Tensor, wanted: Sequence[str]) -> dict[str, torch.Tensor]:
        """Outputs of the `wanted` layers for images in [-1, 1], (N, 3, H, W); stops at the last one."""
        remaining = set(wanted)
        out = {}
        x = ((x + 1) / 2 - self.mean) / self.std
        for name, layer in self.layers.named_children():
            x = layer(x)
            if name in remaining:
                out[name] = x
                remaining.discard(name)
                if not remaining:
                    break
        return out

    def load_torchvision_state(self, state: dict[str, torch.Tensor], source: str) -> None:
        """Copy `features.N.weight/bias` from torchvision's vgg19 state dict; classifier keys are ignored."""
        mapped = {}
        for index, name in enumerate(self.names):
            if not name.startswith("conv"):
                continue
            for kind in ("weight", "bias"):
                key = f"features.{index}.{kind}"
                if key not in state:
                    raise GanforgeError(f"{source}: not a torchvision VGG19 weight file (no {key!r})")
                expected = getattr(getattr(self.layers, name), kind).shape
                if tuple(state[key].shape) != tuple(expected):
                    raise GanforgeError(f"{source}: not a torchvision VGG19 weight file ({key} has shape "
                                        f"{tuple(state[key].shape)}, VGG19 needs {tuple(expected)})")
                mapped[f"layers.{name}.{kind}"] = state[key]
        self.load_state_dict(mapped)


def cached_weights_path() -> Path:
    """Where torch.hub keeps downloaded weights: $TORCH_HOME/hub/checkpoints (usually ~/.cache/torch)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS_FILE


def offline_message() -> str:
    return (f"VGG19 ImageNet weights are not available: fetch {WEIGHTS_URL} and save it as "
            f"{cached_weights_path()} (or pass --weights FILE)")


def read_weight_file(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """A state dict from a local file, loaded with weights_only=True; anything else is a one-line error."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise GanforgeError(f"--weights {path}: no such file")
    state = safe_torch_load(path, what="weight file")
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise GanforgeError(f"{path}: not a torchvision VGG19 weight file (expected a state dict of tensors)")
    return state


def _download() -> None:
    """torch.hub's own download: into the hub cache, hash-checked against the file name."""
    torch.hub.load_state_dict_from_url(WEIGHTS_URL, file_name=WEIGHTS_FILE, check_hash=True, weights_only=True,
                                       map_location="cpu")


def ensure_cached(download: bool = True) -> Path:
    """The cached weight file, downloaded first if allowed and missing.

    Raises WeightsUnavailable, whose message says exactly which file to fetch and where to put it.
    """
    cached = cached_weights_path()
    if not cached.is_file() and download:
        try:
            _download()
        except (urllib.error.URLError, OSError, RuntimeError) as err:
            reason = str(err).strip().splitlines()[0][:120] if str(err).strip() else type(err).__name__
            raise WeightsUnavailable(f"{offline_message()}; the download failed: {reason}") from None
    if not cached.is_file():
        raise WeightsUnavailable(offline_message())
    return cached


def build_vgg19(last_layer: str, weights: str | os.PathLike | None = None, download: bool = True) -> VGG19Features:
    """VGG19 cut after `last_layer`, with ImageNet weights, frozen and in eval mode."""
    net = VGG19Features(last_layer)
    source = Path(weights) if weights is not None else ensure_cached(download)
    net.load_torchvision_state(read_weight_file(source), str(source))
    return net.eval().requires_grad_(False)


def random_vgg19_state(seed: int = 0) -> dict[str, torch.Tensor]:
    """A state dict with torchvision's `features` keys and shapes and seeded random values (He init, as
    torchvision initialises). For tests and benchmarks where the real file cannot be had: right layout,
    meaningless features."""
    generator = torch.Generator().manual_seed(seed)
    state, channels = {}, 3
    widths = iter(w for w in LAYOUT if w != "M")
    for index, name in enumerate(LAYER_NAMES):
        if name.startswith("conv"):
            width = next(widths)
            std = (2.0 / (width * 9)) ** 0.5  # kaiming_normal_(mode="fan_out", nonlinearity="relu")
            state[f"features.{index}.weight"] = torch.randn(width, channels, 3, 3, generator=generator) * std
            state[f"features.{index}.bias"] = torch.zeros(width)
            channels = width
    return state
