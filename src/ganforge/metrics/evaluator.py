"""Scoring a generator against one data set: sample it, extract features, compute the chosen metrics.

features (metrics/features.py) -> statistics and metrics (fid, kid, precision_recall, inception_score,
memorisation) -> one record with its provenance: extractor and weights hash, resize rule, precision,
numbers of real and generated samples, reference split, seed, metric settings and version.
"""

from __future__ import annotations

import datetime
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganforge.data import ImageDataset
from ganforge.errors import GanforgeError
from ganforge.images import from_uint8
from ganforge.inference.sampling import generate, latents
from ganforge.metrics.features import (
    FeatureExtractor,
    Features,
    create_extractor,
    default_extractor_name,
    extract_features,
)
from ganforge.metrics.fid import feature_statistics, frechet_distance
from ganforge.metrics.inception_score import inception_score
from ganforge.metrics.kid import kid
from ganforge.metrics.memorisation import memorisation_check, save_closest_pairs
from ganforge.metrics.precision_recall import prdc
from ganforge.metrics.reference import Reference, real_features
from ganforge.metrics.scores import parse_metrics
from ganforge.runtime import eval_mode

METRIC_VERSION = 1


@dataclass
class EvalSettings:
    metrics: tuple[str, ...] = ("fid", "kid")
    n_gen: int = 10_000
    seed: int = 0
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    pr_k: int = 5
    copy_quantile: float = 0.05
    is_splits: int = 10
    batch_size: int = 200


def score_features(real: Reference, fake: Features, settings: EvalSettings,
                   has_classifier: bool) -> tuple[dict[str, float], Any]:
    """{score name: value} for the chosen metrics, and the memorisation result (or None)."""
    scores: dict[str, float] = {}
    copies = None
    if "fid" in settings.metrics:
        mu, sigma, root = real.gaussian()
        scores["fid"] = frechet_distance(mu, sigma, *feature_statistics(fake.features), root1=root)
    if "kid" in settings.metrics:
        result = kid(real.features, fake.features, settings.kid_subsets, settings.kid_subset_size, settings.seed)
        scores["kid"], scores["kid_std"] = result.mean, result.std
    if "pr" in settings.metrics:
        scores.update({k: v for k, v in asdict(prdc(real.features, fake.features, settings.pr_k)).items() if k != "k"})
    if "is" in settings.metrics:
        if not has_classifier or fake.logits is None:
            raise GanforgeError("--metrics is needs an extractor that is a classifier (inception-v3, digits)")
        scores["is"], scores["is_std"] = inception_score(fake.logits, min(settings.is_splits, len(fake.logits)))
    if "memorisation" in settings.metrics:
        copies = memorisation_check(real.features, fake.features, settings.copy_quantile)
        scores["copies"] = copies.copy_fraction
    return scores, copies


def generated_features(G: nn.Module, latent_dim: int, n: int, seed: int, extractor: FeatureExtractor,
                       device: torch.device | str, precision: str, batch_size: int = 200,
                       labels: torch.Tensor | None = None) -> Features:
    """Features of n samples from G, generated and extracted batch by batch (never all images at once).

    `labels` (n,) for a class-conditional G."""
    z = latents(n, latent_dim, seed)
    label_chunks = labels.split(batch_size) if labels is not None else [None] * len(z.split(batch_size))
    with eval_mode(G):
        batches = (generate(G, chunk, batch_size, labels=y) for chunk, y in zip(z.split(batch_size), label_chunks))
        return extract_features(extractor, batches, device, precision)


class Evaluator:
    """Scores generators against one data set with one extractor; the real side is computed (or read) once."""

    def __init__(self, dataset: ImageDataset, extractor: FeatureExtractor, settings: EvalSettings,
                 device: torch.device | str = "cpu", precision: str = "fp32", n_real: int | None = None,
                 cache: bool = True, quiet: bool = True) -> None:
        if settings.n_gen < 2:
            raise GanforgeError(f"-n must be at least 2, got {settings.n_gen}")
        self.dataset, self.extractor, self.settings = dataset, extractor, settings
        self.device, self.precision = torch.device(device), precision
        if "is" in settings.metrics and not extractor.has_classifier:
            raise GanforgeError(f"--metrics is needs an extractor that is a classifier; {extractor.name} is not")
        self.real = real_features(dataset, extractor, n_real, settings.seed, self.device, precision, cache,
                                  quiet=quiet)

    def provenance(self, checkpoint: str, n_gen: int) -> dict[str, Any]:
        s = self.settings
        record = {**self.extractor.provenance(), "precision": self.precision, **self.real.provenance,
                  "n_gen": n_gen, "seed": s.seed, "metrics": list(s.metrics), "metric_version": METRIC_VERSION,
                  "checkpoint": checkpoint, "time": datetime.datetime.now().isoformat(timespec="seconds")}
        if "kid" in s.metrics:
            record["kid_subsets"] = s.kid_subsets
            record["kid_subset_size"] = min(s.kid_subset_size, self.real.provenance["n_real"], n_gen)
        if "pr" in s.metrics:
            record["pr_k"] = s.pr_k
        if "memorisation" in s.metrics:
            record["copy_quantile"] = s.copy_quantile
        return record

    def generated_labels(self) -> torch.Tensor:
        """Classes for a conditional G's samples, drawn (seeded) in the real data's class proportions."""
        if self.dataset.labels is None:
            raise GanforgeError(f"{self.dataset.name}: a class-conditional generator is compared with labelled data, "
                                "and this data set has no labels")
        g = torch.Generator().manual_seed(self.settings.seed + 1)
        return self.dataset.labels[torch.randint(len(self.dataset), (self.settings.n_gen,), generator=g)]

    def __call__(self, G: nn.Module, latent_dim: int, step: int, checkpoint: str = "",
                 picture_dir: Path | None = None, conditional: bool = False) -> dict[str, Any]:
        """One metrics.jsonl record: {"step", "eval/<score>": value, ..., "eval/provenance": {...}}."""
        s = self.settings
        labels = self.generated_labels() if conditional else None
        fake = generated_features(G, latent_dim, s.n_gen, s.seed, self.extractor, self.device, self.precision,
                                  s.batch_size, labels)
        scores, copies = score_features(self.real, fake, s, self.extractor.has_classifier)
        record: dict[str, Any] = {"step": step, **{f"eval/{k}": v for k, v in scores.items()}}
        if copies is not None and picture_dir is not None:
            picture = Path(picture_dir) / f"closest-pairs-{step:07d}.png"
            gen_idx, train_idx = copies.closest_pairs(8)
            with eval_mode(G):
                generated = generate(G, latents(s.n_gen, latent_dim, s.seed)[gen_idx],
                                     labels=None if labels is None else labels[gen_idx])
            training = from_uint8(self.dataset.images[self.real.indices[train_idx]])
            save_closest_pairs(picture, generated, training)
            record["eval/closest_pairs"] = str(picture)
        record["eval/provenance"] = self.provenance(checkpoint, s.n_gen)
        if conditional:
            record["eval/provenance"]["labels"] = "drawn in the real data's class proportions"
        return record


def make_evaluator(dataset: ImageDataset, data: str, metrics: str | list[str] | tuple[str, ...], samples: int,
                   extractor: str | nn.Module | None = None, weights: str | None = None, resize: str | None = None,
                   seed: int = 0, n_real: int | None = None, device: torch.device | str = "cpu",
                   precision: str = "fp32", cache: bool = True, quiet: bool = True) -> Evaluator:
    """The Evaluator `ganforge eval` and `--eval-every` both use; `extractor` None picks the default for `data`."""
    if precision not in ("fp32", "bf16"):
        raise GanforgeError(f"--precision must be fp32 or bf16, got {precision!r}")
    settings = EvalSettings(metrics=tuple(parse_metrics(metrics)), n_gen=samples, seed=seed)
    with torch.random.fork_rng(devices=[]):  # building the extractor may train it: leave the caller's RNG untouched
        chosen = create_extractor(default_extractor_name(data) if extractor is None else extractor, weights, resize)
        return Evaluator(dataset, chosen, settings, device, precision, n_real, cache, quiet)
