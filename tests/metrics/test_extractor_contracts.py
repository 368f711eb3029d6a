"""Contract tests over every registered feature extractor: it builds offline or says in one line what to fetch,
and a built one turns grey and RGB images into finite (N, D) features, the same on every call."""

import pytest
import torch

from ganforge.errors import GanforgeError
from ganforge.metrics.features import EXTRACTORS, create_extractor, extract_features


@pytest.mark.parametrize("name", EXTRACTORS.names())
def test_every_extractor_builds_or_names_what_to_fetch(name):
    try:
        extractor = create_extractor(name)
    except GanforgeError as err:  # pretrained weights that cannot be downloaded here
        assert "\n" not in str(err) and ("weights" in str(err) or "download" in str(err)), str(err)
        return
    torch.manual_seed(0)
    for channels in (1, 3):
        images = torch.rand(5, channels, 32, 32) * 2 - 1
        first = extract_features(extractor, images, batch_size=2)
        again = extract_features(extractor, images, batch_size=5)
        assert first.features.ndim == 2 and first.features.shape[0] == 5 and torch.isfinite(first.features).all()
        assert torch.allclose(first.features, again.features, atol=1e-5)
    assert extractor.provenance()["extractor"] == name
