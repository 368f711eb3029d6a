"""Which classes of a labelled data set, or which known modes of 2D point data, G's samples cover: the training
doctor's mode-collapse check beside its spread check (a G that makes 6 distinct digits spreads as widely as real
batches do, but misses 4 classes).

Classes: each generated sample takes the label of its nearest neighbour, in D's feature space, among a fixed
labelled real batch (D changes as it trains, so the features are recomputed at every check; no classifier is
trained, nothing is downloaded). Each feature set is centred on its own mean first, so the real-vs-fake offset D
is trained to see does not pull every sample towards the same real images. The same rule applied to the real
batch itself (leave-one-out) says how well D's features tell the classes apart, and how many samples each class
should get: a class is missing when it gets under a quarter of that, and nothing is judged when the features
tell the classes apart little better than chance.
2D points with known modes (ring, grid): the published protocol (metrics/modes.py), a mode is hit when it is the
nearest mode of a sample within 3 std.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ganforge.config.checks import spec_for
from ganforge.metrics.modes import score_points
from ganforge.recipes import Recipe
from ganforge.runtime import eval_mode
from ganforge.training.d_input import DiscriminatorInput

CLASS_REAL = 256  # labelled real images per class check (one D feature pass): their nearest neighbours label samples
CLASS_SAMPLES = 128  # G's samples per class check (one G pass, one D feature pass)
POINT_SAMPLES = 2_500  # G's samples per mode check: the published protocol's count (one pass of a small MLP)
MIN_EXPECTED = 8.0  # a class is judged only if at least this many of G's samples should fall in it
MAX_CLASSES = int(CLASS_SAMPLES / MIN_EXPECTED)  # more classes (stacked-digits: 1,000) are too many to judge cheaply
MISSING_SHARE = 0.25  # a judged class is missing when it gets under a quarter of its expected samples (a few
# percent of any sample set is mislabelled, so a class G never makes still collects a handful)
MIN_ACCURACY_OVER_CHANCE = 3.0  # leave-one-out accuracy below 3x chance (30% for 10 classes): classes not judged


@dataclass(frozen=True)
class Coverage:
    """Of the `judged` classes (or modes), `covered` received at least one of G's samples; `missing` names the
    others. `accuracy` is the classifier's leave-one-out accuracy on real images (1.0 for 2D modes)."""

    covered: int
    judged: int
    missing: list[str]
    accuracy: float
    kind: str = "classes"  # "classes" or "modes"


def class_coverage(real_features: torch.Tensor, labels: torch.Tensor, fake_features: torch.Tensor,
                   names: list[str]) -> Coverage | None:
    """real (N, F) with labels (N,) in 0..len(names)-1; fakes (M, F). None when classes cannot be judged.

    Each sample takes the label of its nearest real image; the classifier's leave-one-out predictions on the
    real images give each class's expected share of the samples."""
    real, fake = real_features.double().flatten(1), fake_features.double().flatten(1)
    real, fake = real - real.mean(0), fake - fake.mean(0)
    classes = len(names)
    distances = torch.cdist(real, real)
    distances.fill_diagonal_(torch.inf)  # leave one out: an image's nearest neighbour is another image
    predicted = labels[distances.argmin(1)]
    accuracy = float((predicted == labels).double().mean())
    if accuracy < min(1.0, MIN_ACCURACY_OVER_CHANCE / len(labels.unique())):
        return None
    hits = torch.bincount(labels[torch.cdist(fake, real).argmin(1)], minlength=classes)
    expected = torch.bincount(predicted, minlength=classes).double() * len(fake) / len(real)
    judged = expected >= MIN_EXPECTED
    short = judged & (hits < MISSING_SHARE * expected)
    missing = [names[c] for c in torch.nonzero(short).flatten().tolist()]
    return Coverage(int(judged.sum()) - len(missing), int(judged.sum()), missing, accuracy)


def mode_coverage(samples: torch.Tensor, modes: torch.Tensor, std: float) -> Coverage | None:
    """2D samples (N, 2) against known mode centres (K, 2); None while too few lie within 3 std of any mode
    (fewer than MIN_EXPECTED per mode: G has not found the modes yet, so missing ones say nothing)."""
    score = score_points(samples, modes, std)
    if score.high_quality * len(samples) < MIN_EXPECTED * len(modes):
        return None
    missing = [f"({round(x, 2) + 0.0:g}, {round(y, 2) + 0.0:g})"  # + 0.0: no "-0"
               for (x, y), hits in zip(modes.tolist(), score.hq_per_mode) if hits == 0]
    return Coverage(score.modes_captured, score.modes_total, missing, 1.0, kind="modes")


class CoverageCheck:
    """The fixed inputs of one run's coverage check (G's latents, the labelled real batch), made once so that every
    check compares like with like. Cost per check: images, one G pass over 128 latents and D feature passes over
    128 generated and 256 real images; 2D points, one G pass over 2,500 latents. Small inputs keep it a small
    share of training time (measured in docs/stabilising.md)."""

    def __init__(self, recipe: Recipe, device: torch.device, seed: int) -> None:
        self.modes = getattr(recipe.dataset, "modes", None)
        count = POINT_SAMPLES if self.modes is not None else CLASS_SAMPLES
        self.z = recipe.noise(count, torch.Generator(device=device).manual_seed(seed + 4), device)
        self.real, self.labels = None, None
        if self.modes is None:  # each image once (a small data set gives fewer): leave-one-out must not see twins
            self.real, self.labels = recipe.batches(device, min(CLASS_REAL, len(recipe.dataset)), seed + 5).next()

    @torch.no_grad()
    def __call__(self, recipe: Recipe, G: nn.Module, d_input: DiscriminatorInput) -> Coverage | None:
        with eval_mode(G, d_input):
            fakes = recipe.sample_grid(G, {"z": self.z})[0] if recipe.judged_by_spread else None
            if fakes is None:
                return None
            if self.modes is not None:
                return mode_coverage(fakes.float(), self.modes.to(fakes.device), recipe.dataset.std)
            real_features, fake_features = _features_each(d_input, self.real), _features_each(d_input, fakes.float())
            if real_features is None or fake_features is None:
                return None
            return class_coverage(real_features, self.labels, fake_features, recipe.dataset.class_names)


def make_coverage_check(recipe: Recipe, device: torch.device, seed: int) -> CoverageCheck | None:
    """A check for unconditional runs on labelled images (2 to 32 classes) or on 2D points with known modes;
    None otherwise (a conditional G makes each class on request; pix2pix has no classes to cover)."""
    data: Any = recipe.dataset
    if getattr(data, "modes", None) is not None:
        return CoverageCheck(recipe, device, seed)
    if spec_for(recipe.config).inputs != "latent" or getattr(data, "labels", None) is None:
        return None
    return CoverageCheck(recipe, device, seed) if 2 <= data.num_classes <= MAX_CLASSES else None


def _features_each(d_input: DiscriminatorInput, images: torch.Tensor) -> torch.Tensor | None:
    """D's features of each image on its own: a packed D (PacGAN) sees m copies of it."""
    return d_input.features(images.repeat_interleave(d_input.pack_size, 0))
