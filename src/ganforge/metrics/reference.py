"""Real-data features, computed once per data set + extractor + resolution and cached on disk.

The cache file is named by a hash of everything the features depend on: the images' bytes, the
extractor's name, weights hash and resize rule, the precision, which images were used and the metric
version. Change any of them and the name changes, so a stale file is never read.
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganforge.checkpoint import load_checkpoint, save_checkpoint
from ganforge.data import ImageDataset
from ganforge.errors import GanforgeError
from ganforge.metrics.digit_classifier import cache_dir
from ganforge.metrics.features import FeatureExtractor, extract_features, uint8_batches
from ganforge.metrics.fid import feature_statistics, psd_sqrt

REFERENCE_VERSION = 1


@dataclass
class Reference:
    """Features of the real images a run is compared with, and where they came from."""

    features: torch.Tensor  # (N, D)
    logits: torch.Tensor | None
    indices: torch.Tensor  # (N,) positions in the data set
    provenance: dict[str, Any]
    _gaussian: tuple[np.ndarray, np.ndarray, np.ndarray] | None = field(default=None, repr=False)

    def gaussian(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(mean, covariance, covariance square root) for FID, computed once: the real side never changes."""
        if self._gaussian is None:
            mu, sigma = feature_statistics(self.features)
            self._gaussian = (mu, sigma, psd_sqrt(sigma))
        return self._gaussian


def data_hash(dataset: ImageDataset) -> str:
    """sha256 of the decoded images: any changed, added or removed file changes it."""
    digest = hashlib.sha256(f"{tuple(dataset.images.shape)}".encode())
    digest.update(dataset.images.contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def choose_real(count: int, n_real: int | None, seed: int) -> torch.Tensor:
    """All images, or a seeded random subset of n_real of them (sorted)."""
    if n_real is None or n_real >= count:
        return torch.arange(count)
    if n_real < 2:
        raise GanforgeError(f"--n-real must be at least 2, got {n_real}")
    return torch.randperm(count, generator=torch.Generator().manual_seed(seed))[:n_real].sort().values


def real_features(dataset: ImageDataset, extractor: FeatureExtractor, n_real: int | None = None, seed: int = 0,
                  device: torch.device | str = "cpu", precision: str = "fp32", cache: bool = True,
                  cache_root: Path | None = None, quiet: bool = True) -> Reference:
    """Features of the data set's images (read from the cache when nothing they depend on changed)."""
    indices = choose_real(len(dataset), n_real, seed)
    split = "train" if len(indices) == len(dataset) else f"train (random {len(indices)} of {len(dataset)}, seed {seed})"
    provenance = {"data": dataset.name, "data_sha256": data_hash(dataset), "resolution": dataset.resolution,
                  "channels": dataset.channels, "split": split, "n_real": len(indices)}
    key_fields = {**provenance, **extractor.provenance(), "precision": precision, "version": REFERENCE_VERSION}
    key_fields.pop("weights")  # where the weights file lives does not change the features; its hash does
    key = hashlib.sha256(json.dumps(key_fields, sort_keys=True).encode()).hexdigest()[:20]
    path = (cache_root or cache_dir()) / "reference" / f"{extractor.name.replace(':', '_').replace('/', '_')}-{key}.pt"
    if cache and path.is_file():
        try:
            state = load_checkpoint(path)
            if state.get("key_fields") == key_fields:
                return Reference(state["features"], state.get("logits"), state["indices"], provenance)
        except GanforgeError as err:
            print(f"warning: ignoring unreadable cache file: {err}", file=sys.stderr)
    if not quiet:
        print(f"computing {extractor.name} features of {len(indices)} real images (cached afterwards)", file=sys.stderr)
    found = extract_features(extractor, uint8_batches(dataset.images[indices]), device, precision)
    if cache:
        save_checkpoint(path, {"key_fields": key_fields, "features": found.features, "logits": found.logits,
                               "indices": indices})
    return Reference(found.features, found.logits, indices, provenance)
