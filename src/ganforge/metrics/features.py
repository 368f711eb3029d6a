"""Feature extractors: images in [-1, 1] -> one feature vector each (and class logits where a classifier exists).

Every metric is a pure function of these features, so a score is only as comparable as its extractor:
the name, the weights' hash and the resize rule travel with every score (see `FeatureExtractor.provenance`).

Registered: `inception-v3` (the standard FID network), `digits` (the independent digit classifier),
`random` (a fixed random conv net, for smoke tests only). Any `nn.Module` works too: pass it to
`create_extractor`, or name it as `package.module:factory` on the command line.
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.errors import GanforgeError
from ganforge.images import composite_on_white, from_uint8
from ganforge.registry import Registry
from ganforge.runtime import autocast
from ganforge.threads import unit

EXTRACTORS: Registry[Callable[..., FeatureExtractor]] = Registry("feature extractor")


def weights_hash(module: nn.Module) -> str:
    """sha256 of every tensor in the state dict (names, dtypes, shapes, values): which weights made a score."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


@dataclass
class FeatureExtractor:
    """A network (images -> features, or (features, logits)) and the facts a score's provenance needs."""

    name: str
    network: nn.Module
    resize: str  # how images reach the network's input size, in words
    weights: str  # where the weights came from
    weights_sha256: str

    @property
    def has_classifier(self) -> bool:
        return bool(getattr(self.network, "has_classifier", False))

    def provenance(self) -> dict[str, str]:
        return {"extractor": self.name, "weights": self.weights, "weights_sha256": self.weights_sha256,
                "resize": self.resize}


@dataclass
class Features:
    features: torch.Tensor  # (N, D) float32 on the CPU
    logits: torch.Tensor | None  # (N, classes) where the extractor is a classifier


def _as_pair(output: torch.Tensor | tuple) -> tuple[torch.Tensor, torch.Tensor | None]:
    if isinstance(output, tuple):
        return output[0], (output[1] if len(output) > 1 else None)
    return output, None


@torch.no_grad()
def extract_features(extractor: FeatureExtractor, batches: Iterable[torch.Tensor] | torch.Tensor,
                     device: torch.device | str = "cpu", precision: str = "fp32", batch_size: int = 200) -> Features:
    """Features of images given as one float tensor in [-1, 1] or as an iterable of such batches.

    channels_last always; precision="bf16" adds bf16 autocast, faster where bf16 is native but it moves the
    features (speed and drift measured in docs/evaluation.md). Features leave as fp32."""
    device = torch.device(device)
    if isinstance(batches, torch.Tensor):
        batches = batches.split(batch_size)
    network = extractor.network.to(device).eval().to(memory_format=torch.channels_last)
    features, logits = [], []
    for images in batches:
        x = composite_on_white(images).to(device).contiguous(memory_format=torch.channels_last)  # RGBA: on white
        with autocast(device, precision), unit():  # unit: timed when the thread count is being chosen
            f, lg = _as_pair(network(x))
        if f.ndim != 2:
            raise GanforgeError(f"feature extractor {extractor.name!r} must return (N, D) features, got "
                                f"shape {tuple(f.shape)}")
        features.append(f.float().cpu())
        if lg is not None:
            logits.append(lg.float().cpu())
    if not features:
        raise GanforgeError("no images to extract features from")
    return Features(torch.cat(features), torch.cat(logits) if logits else None)


def uint8_batches(images: torch.Tensor, batch_size: int = 200) -> Iterable[torch.Tensor]:
    """uint8 (N, H, W, C) images -> float [-1, 1] batches, converted one batch at a time to bound memory."""
    for chunk in images.split(batch_size):
        yield from_uint8(chunk)


# --- the registered extractors ------------------------------------------------------------------------------
@EXTRACTORS.register("inception-v3")
def inception_extractor(weights: str | None = None, resize: str | None = None) -> FeatureExtractor:
    """The standard FID Inception (2048-d pool features, 1008 logits); weights from the torch hub cache or a file."""
    from ganforge.metrics.inception import WEIGHTS_FILE, fold_batchnorm, load_fid_inception, weights_path

    resize = resize or "pytorch-fid"
    inception = load_fid_inception(weights, resize)
    digest = weights_hash(inception)  # of the weights as published, before folding batch norm into the convs
    source = str(weights) if weights is not None else f"{WEIGHTS_FILE} ({weights_path(None).parent})"
    rule = ("bilinear to 299 px (pytorch-fid: align_corners=False, grey -> RGB)" if resize == "pytorch-fid"
            else "TensorFlow-1 bilinear to 299 px (torch-fidelity, grey -> RGB)")
    return FeatureExtractor("inception-v3", fold_batchnorm(inception), rule, source, digest)


def _only_inception_options(name: str, weights: str | None, resize: str | None) -> None:
    if weights is not None or resize is not None:
        raise GanforgeError(f"--weights and --resize apply to inception-v3 only, not to the {name} extractor")


class _DigitFeatures(nn.Module):
    has_classifier = True

    def __init__(self, classifier: nn.Module) -> None:
        super().__init__()
        self.classifier = classifier

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.classifier.features(images)  # (N, 128)
        return features, self.classifier.head(features)  # (N, 11): digits 0-9, then "not a digit"


@EXTRACTORS.register("digits")
def digits_extractor(weights: str | None = None, resize: str | None = None) -> FeatureExtractor:
    """The independent digit classifier's 128-d penultimate features (trained on first use, then cached)."""
    from ganforge.metrics.digit_classifier import load_digit_classifier

    _only_inception_options("digits", weights, resize)
    classifier = load_digit_classifier().model
    return digits_from_classifier(classifier)


def digits_from_classifier(classifier: nn.Module) -> FeatureExtractor:
    return FeatureExtractor("digits", _DigitFeatures(classifier.eval()),
                            "grey, bilinear (antialiased) to 32 px", "ganforge digit classifier (cached)",
                            weights_hash(classifier))


class RandomConvNet(nn.Module):
    """Three fixed random conv layers + global pooling: 128-d features that react to images, mean nothing more.

    For smoke tests only: scores from it say nothing about image quality."""

    has_classifier = False

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        self.convs = nn.ModuleList([nn.Conv2d(3, 32, 3, 2, 1), nn.Conv2d(32, 64, 3, 2, 1), nn.Conv2d(64, 64, 3, 2, 1)])
        g = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for conv in self.convs:
                fan_in = conv.weight[0].numel()
                conv.weight.copy_(torch.randn(conv.weight.shape, generator=g) * (2 / fan_in) ** 0.5)
                conv.bias.zero_()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images.float()
        x = x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x
        x = F.interpolate(x, size=(32, 32), mode="bilinear", align_corners=False, antialias=True)
        for conv in self.convs:
            x = F.relu(conv(x))
        return torch.cat([x.mean(dim=(2, 3)), x.amax(dim=(2, 3))], 1)  # (N, 128)


@EXTRACTORS.register("random")
def random_extractor(weights: str | None = None, resize: str | None = None) -> FeatureExtractor:
    _only_inception_options("random", weights, resize)
    network = RandomConvNet()
    return FeatureExtractor("random", network, "grey -> RGB, bilinear (antialiased) to 32 px",
                            "random (seed 0; smoke tests only)", weights_hash(network))


def from_module(module: nn.Module, name: str | None = None) -> FeatureExtractor:
    """Any nn.Module returning (N, D) features, or (features, logits): it does its own resizing."""
    name = name or f"custom:{type(module).__name__}"
    return FeatureExtractor(name, module.eval(), "the module's own", f"user module {type(module).__name__}",
                            weights_hash(module))


def _import_factory(spec: str) -> nn.Module:
    module_name, _, attr = spec.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as err:
        raise GanforgeError(f"--extractor {spec}: cannot import it ({err})") from None
    module = factory() if not isinstance(factory, nn.Module) else factory
    if not isinstance(module, nn.Module):
        raise GanforgeError(f"--extractor {spec}: gave {type(module).__name__}, expected a torch nn.Module")
    return module


def create_extractor(spec: str | nn.Module, weights: str | None = None, resize: str | None = None) -> FeatureExtractor:
    """A registered extractor by name, a user `nn.Module`, or `package.module:factory` naming one.

    `weights` (a local file) and `resize` ("pytorch-fid" or "torch-fidelity") apply to inception-v3."""
    if isinstance(spec, nn.Module):
        _only_inception_options("user", weights, resize)
        return from_module(spec)
    if ":" in spec:
        _only_inception_options(spec, weights, resize)
        return from_module(_import_factory(spec), name=spec)
    return EXTRACTORS.get(spec)(weights=weights, resize=resize)


def default_extractor_name(data: str) -> str:
    """digits for the built-in digits (no download needed); the standard Inception for everything else."""
    return "digits" if data == "digits" else "inception-v3"
