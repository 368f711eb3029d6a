"""KID: the fast subset computation equals the textbook estimator, and the estimator is unbiased."""

import pytest
import torch

from ganforge.errors import GanforgeError
from ganforge.metrics.kid import kid, mmd2_unbiased, polynomial_kernel, subset_memberships


@pytest.mark.parametrize("subsets", [2, 30])  # few subsets: computed per subset; many: from shared kernel rows
def test_matches_a_direct_estimate_on_the_same_subsets(subsets):
    g = torch.Generator().manual_seed(0)
    real, fake = torch.randn(300, 16, generator=g), torch.randn(250, 16, generator=g) * 1.1 + 0.1
    result = kid(real, fake, subsets=subsets, subset_size=100, seed=3)
    g = torch.Generator().manual_seed(3)
    in_real, in_fake = subset_memberships(300, 100, subsets, g), subset_memberships(250, 100, subsets, g)
    direct = torch.tensor([mmd2_unbiased(real[in_real[s].bool()], fake[in_fake[s].bool()]) for s in range(subsets)],
                          dtype=torch.float64)
    assert result.mean == pytest.approx(float(direct.mean()), rel=1e-6)  # float32 dot products, other order
    assert result.std == pytest.approx(float(direct.std()), rel=1e-6)


def test_kernel_is_the_cubic_polynomial():
    x, y = torch.tensor([[1.0, 2.0]]), torch.tensor([[3.0, -1.0]])
    assert float(polynomial_kernel(x, y)) == pytest.approx(((1 * 3 + 2 * -1) / 2 + 1) ** 3)


def test_unbiased_on_equal_distributions_where_the_biased_one_is_not(one_thread):
    g = torch.Generator().manual_seed(1)
    unbiased, biased = [], []
    with one_thread():
        for _ in range(300):
            x, y = torch.randn(40, 8, generator=g), torch.randn(40, 8, generator=g)
            unbiased.append(mmd2_unbiased(x, y))
            biased.append(float(polynomial_kernel(x, x).mean() + polynomial_kernel(y, y).mean()
                                - 2 * polynomial_kernel(x, y).mean()))
    u, b = torch.tensor(unbiased, dtype=torch.float64), torch.tensor(biased, dtype=torch.float64)
    stderr = float(u.std()) / len(u) ** 0.5
    assert abs(float(u.mean())) < 3 * stderr  # mean 0 within noise
    assert float(b.mean()) > 10 * stderr  # keeping the diagonal biases it upwards: the test can tell


def test_grows_with_the_distance_between_distributions():
    g = torch.Generator().manual_seed(2)
    real = torch.randn(400, 8, generator=g)
    near = kid(real, torch.randn(400, 8, generator=g) + 0.1, subsets=10, subset_size=200).mean
    far = kid(real, torch.randn(400, 8, generator=g) + 1.0, subsets=10, subset_size=200).mean
    assert 0 < near < far


def test_subset_size_shrinks_for_small_sets_and_tiny_sets_are_refused():
    g = torch.Generator().manual_seed(3)
    result = kid(torch.randn(50, 4, generator=g), torch.randn(3000, 4, generator=g), subsets=5)
    assert result.subset_size == 50 and result.subsets == 5
    with pytest.raises(GanforgeError, match="at least 2"):
        kid(torch.randn(1, 4), torch.randn(10, 4))
