"""A cheap KID for any folder, in the folder's own features: is training still improving, and is it near the data?

At the start of a run a few real images are held out, and a small classifier (metrics/data_classifier.py) is
trained on the rest: on the sub-folders' categories when there are at least two, otherwise on which way up each
image is (0, 90, 180 or 270 degrees, a task that needs the pictures' shapes; Gidaris et al. 2018). Its features of
the held-out images are the reference: held-out images and G's samples are both new to it. Two yardsticks come
with it, in the same features: the floor (the classifier's own training images against the held-out ones: as near
as samples can be expected to get) and the blur (those images blurred by a 2-pixel Gaussian: a sample farther
away than that is not yet a recognisable picture).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from ganforge.data.dataset import ImageDataset
from ganforge.errors import GanforgeError
from ganforge.images import from_uint8
from ganforge.metrics.data_classifier import train_data_classifier
from ganforge.metrics.features import FeatureExtractor, extract_features
from ganforge.metrics.kid import kid

MAX_HELDOUT = 250  # held-out real images: KID is unbiased, so a few hundred give a usable estimate
MAX_TRAIN = 1000  # images the classifier learns from; more cost time and change little
CLASSIFIER_STEPS = 300  # batches of 64 at 32 px: about half a CPU minute
BLUR_SIGMA = 2.0  # px at the training resolution
KID_SUBSETS = 50


@dataclass
class OwnFeatures:
    extractor: FeatureExtractor
    heldout: torch.Tensor  # (N, D) features of the held-out real images
    floor: float  # KID of the classifier's training images against the held-out ones
    blurred: float  # KID of the same images blurred by BLUR_SIGMA px
    task: str  # what the classifier learnt, in words
    train_count: int

    def kid(self, features: torch.Tensor, seed: int = 0) -> tuple[float, float]:
        """(mean, std) KID of `features` against the held-out images."""
        size = min(len(self.heldout), len(features))
        result = kid(self.heldout, features, KID_SUBSETS, size, seed)
        return result.mean, result.std

    def provenance(self) -> dict[str, Any]:
        return {**self.extractor.provenance(), "classifier_task": self.task, "n_real": len(self.heldout),
                "split": f"held out from the classifier's {self.train_count} training images",
                "floor_kid": self.floor, "blurred_kid": self.blurred}


def heldout_split(count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(training, held-out) positions: a fifth of the images held out, 2 to MAX_HELDOUT of them."""
    if count < 6:
        raise GanforgeError(f"the folder's own KID needs at least 6 images (it holds some out), got {count}")
    order = torch.randperm(count, generator=torch.Generator().manual_seed(seed))
    held = min(MAX_HELDOUT, max(2, count // 5))
    return order[held:][:MAX_TRAIN].sort().values, order[:held].sort().values


def rotations(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 (N, H, W, C) square images -> each at 0, 90, 180 and 270 degrees, and those four labels."""
    turned = torch.cat([torch.rot90(images, k, dims=(1, 2)) for k in range(4)])
    return turned.contiguous(), torch.arange(4).repeat_interleave(len(images))


def blur(images: torch.Tensor, sigma: float = BLUR_SIGMA) -> torch.Tensor:
    """(N, C, H, W) in [-1, 1] blurred by a Gaussian of `sigma` px (edges replicated)."""
    radius = int(3 * sigma)
    taps = torch.exp(-(torch.arange(-radius, radius + 1, dtype=torch.float32) ** 2) / (2 * sigma**2))
    taps = taps / taps.sum()
    c = images.shape[1]
    x = F.pad(images.float(), (radius, radius, radius, radius), mode="replicate")
    x = F.conv2d(x, taps.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    return F.conv2d(x, taps.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)


def own_features(dataset: ImageDataset, seed: int = 0) -> OwnFeatures:
    """Hold out real images, train the folder's own classifier on the rest, and measure the two yardsticks."""
    train_at, held_at = heldout_split(len(dataset), seed)
    images = dataset.images[train_at]
    if dataset.labels is not None and len(dataset.class_names) >= 2:
        train = ImageDataset(images, dataset.labels[train_at], list(dataset.class_names), name=dataset.name)
        task = f"its {len(dataset.class_names)} categories (sub-folders)"
    else:
        if images.shape[1] != images.shape[2]:
            raise GanforgeError(f"{dataset.name}: the folder's own KID needs labelled sub-folders or square images")
        turned, labels = rotations(images)
        train = ImageDataset(turned, labels, ["0", "90", "180", "270"], name=dataset.name)
        task = "which way up each image is (no categories)"
    epochs = max(1, CLASSIFIER_STEPS * min(64, len(train)) // len(train))
    with torch.random.fork_rng(devices=[]):  # training it leaves the run's random stream untouched
        extractor = train_data_classifier(train, epochs=epochs, seed=seed).extractor
    heldout = _features(extractor, from_uint8(dataset.images[held_at]))
    own = from_uint8(images[: 2 * len(held_at)])
    floor = _kid(heldout, _features(extractor, own), seed)
    blurred = _kid(heldout, _features(extractor, blur(own)), seed)
    return OwnFeatures(extractor, heldout, floor, blurred, task, len(train_at))


def _features(extractor: FeatureExtractor, images: torch.Tensor) -> torch.Tensor:
    return extract_features(extractor, images).features


def _kid(reference: torch.Tensor, features: torch.Tensor, seed: int) -> float:
    return kid(reference, features, KID_SUBSETS, min(len(reference), len(features)), seed).mean


def describe(own: OwnFeatures) -> str:
    """One line for the run's start: what the cheap KID compares, and its yardsticks."""
    return (f"KID in the folder's own features: a small classifier trained on {own.train_count} images to tell "
            f"{own.task}; {len(own.heldout)} images held out; floor {own.floor:.4g}, 2-px blur {own.blurred:.4g}")

