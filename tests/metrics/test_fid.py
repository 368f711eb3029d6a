"""FID against an independent scipy reference, and its basic properties."""

import numpy as np
import pytest
import torch
from scipy import linalg

from ganforge.errors import GanforgeError
from ganforge.metrics.fid import feature_statistics, fid, frechet_distance, psd_sqrt


def scipy_fid(a: np.ndarray, b: np.ndarray) -> float:
    """The formula as pytorch-fid computes it: scipy's general matrix square root of S1 S2."""
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = linalg.sqrtm(s1 @ s2)
    covmean = covmean.real if np.iscomplexobj(covmean) else covmean
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def gaussian_features(n: int, d: int, seed: int, shift: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(d, d)) / np.sqrt(d)  # correlated features, like real embeddings
    return rng.normal(size=(n, d)) @ mixing + shift + rng.uniform(0, 1, size=d)


@pytest.mark.parametrize(("n", "d"), [(200, 4), (500, 32), (1000, 64), (3000, 256)])
def test_matches_scipy_sqrtm_reference(n, d):
    a = gaussian_features(n, d, seed=d)
    b = gaussian_features(n + 17, d, seed=d + 1, shift=0.3) * 1.2
    ours, reference = fid(a, b), scipy_fid(a, b)
    assert ours == pytest.approx(reference, rel=1e-6)


def test_same_features_give_zero_and_order_does_not_matter():
    a = gaussian_features(800, 48, seed=0)
    b = gaussian_features(600, 48, seed=1, shift=0.5)
    assert abs(fid(a, a)) < 1e-8 * np.trace(np.cov(a, rowvar=False))
    assert fid(a, b) == pytest.approx(fid(b, a), rel=1e-9)
    assert fid(a, b) > 1.0


def test_accepts_tensors_and_reused_square_root():
    a, b = gaussian_features(300, 16, seed=3), gaussian_features(300, 16, seed=4, shift=0.2)
    mu1, s1 = feature_statistics(a)
    mu2, s2 = feature_statistics(torch.from_numpy(b).float())
    assert frechet_distance(mu1, s1, mu2, s2, root1=psd_sqrt(s1)) == pytest.approx(fid(a, b), rel=1e-5)


def test_matches_torchmetrics_on_the_same_features():
    tm_fid = pytest.importorskip("torchmetrics.image.fid")

    class GivenFeatures(torch.nn.Module):
        num_features = 32

        def forward(self, x):
            return x

    a = torch.from_numpy(gaussian_features(700, 32, seed=5))
    b = torch.from_numpy(gaussian_features(900, 32, seed=6, shift=0.4))
    metric = tm_fid.FrechetInceptionDistance(feature=GivenFeatures())
    metric.update(a, real=True)
    metric.update(b, real=False)
    assert fid(a, b) == pytest.approx(float(metric.compute()), rel=1e-6)


def test_mismatched_or_tiny_feature_sets_are_refused():
    with pytest.raises(GanforgeError, match="feature sizes differ"):
        fid(np.zeros((10, 4)) + np.eye(10, 4), np.zeros((10, 5)) + np.eye(10, 5))
    with pytest.raises(GanforgeError, match="at least 2"):
        fid(np.ones((1, 4)), np.ones((5, 4)))
