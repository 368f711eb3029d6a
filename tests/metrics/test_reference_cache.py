"""Real-data features are cached, and the cache is never read for changed data or a changed extractor."""

import torch
from torch import nn

from ganforge.data import ImageDataset
from ganforge.metrics.features import create_extractor
from ganforge.metrics.reference import real_features


class Counting(nn.Module):
    """Wraps a network and counts the images it sees, to tell a cache hit from a recomputation."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner, self.seen = inner, 0

    def forward(self, x):
        self.seen += len(x)
        return self.inner(x)


def tiny_dataset(seed=0) -> ImageDataset:
    g = torch.Generator().manual_seed(seed)
    return ImageDataset(torch.randint(0, 256, (20, 16, 16, 1), generator=g, dtype=torch.uint8), name="tiny")


def cache_files(root):
    """The cached feature files (each checkpoint-style file has a .sha256 sidecar beside it)."""
    return [p for p in (root / "reference").iterdir() if p.suffix != ".sha256"]


def counting_extractor():
    extractor = create_extractor("random")
    extractor.network = Counting(extractor.network)
    return extractor


def test_second_call_reads_the_cache(tmp_path):
    data, extractor = tiny_dataset(), counting_extractor()
    first = real_features(data, extractor, cache_root=tmp_path)
    assert extractor.network.seen == 20
    second = real_features(data, extractor, cache_root=tmp_path)
    assert extractor.network.seen == 20  # nothing recomputed
    assert torch.equal(first.features, second.features) and second.provenance["n_real"] == 20


def test_changed_data_is_recomputed(tmp_path):
    data, extractor = tiny_dataset(), counting_extractor()
    real_features(data, extractor, cache_root=tmp_path)
    data.images[3, 5, 5, 0] ^= 1  # one pixel
    changed = real_features(data, extractor, cache_root=tmp_path)
    assert extractor.network.seen == 40
    assert changed.provenance["data_sha256"] != real_features(tiny_dataset(), extractor, cache_root=tmp_path) \
        .provenance["data_sha256"]


def test_changed_extractor_precision_or_subset_is_recomputed(tmp_path):
    data, extractor = tiny_dataset(), counting_extractor()
    real_features(data, extractor, cache_root=tmp_path)
    extractor.weights_sha256 = "0" * 16  # other weights
    real_features(data, extractor, cache_root=tmp_path)
    assert extractor.network.seen == 40
    real_features(data, extractor, precision="bf16", cache_root=tmp_path)
    assert extractor.network.seen == 60
    subset = real_features(data, extractor, n_real=8, seed=1, cache_root=tmp_path)
    assert extractor.network.seen == 68 and len(subset.features) == 8 and "random 8 of 20" in subset.provenance["split"]
    assert len(cache_files(tmp_path)) == 4


def test_corrupt_cache_file_is_recomputed_not_fatal(tmp_path, capsys):
    data, extractor = tiny_dataset(), counting_extractor()
    real_features(data, extractor, cache_root=tmp_path)
    (cached,) = cache_files(tmp_path)
    cached.write_bytes(cached.read_bytes()[:100])
    again = real_features(data, extractor, cache_root=tmp_path)
    assert extractor.network.seen == 40 and again.features.shape == (20, 128)
    assert "ignoring unreadable cache file" in capsys.readouterr().err
