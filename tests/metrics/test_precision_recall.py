"""Precision / recall / density / coverage on point sets whose answers can be worked out by hand."""

import pytest
import torch

from ganforge.errors import GanforgeError
from ganforge.metrics.precision_recall import prdc


def on_a_line(positions) -> torch.Tensor:
    """Points (p, 0) in 2-D."""
    p = torch.as_tensor(positions, dtype=torch.float64)
    return torch.stack([p, torch.zeros_like(p)], 1)


def test_generated_points_between_the_first_half_of_the_real_ones():
    # real 0..99 (k=1 radius: 1 each); generated 0.5..49.5 (radius 1 each)
    real, fake = on_a_line(range(100)), on_a_line([i + 0.5 for i in range(50)])
    r = prdc(real, fake, k=1)
    assert r.precision == 1.0  # every generated point lies 0.5 from a real one
    assert r.recall == pytest.approx(0.51)  # real 0..50 are within 1 of a generated point, 51..99 are not
    assert r.coverage == pytest.approx(0.51)
    assert r.density == pytest.approx(2.0)  # each generated point sits in two real balls (its neighbours)


def test_generated_points_far_away_score_zero():
    r = prdc(on_a_line(range(100)), on_a_line([1000 + i for i in range(30)]), k=3)
    assert (r.precision, r.recall, r.density, r.coverage) == (0.0, 0.0, 0.0, 0.0)


def test_half_faithful_half_off_manifold():
    fake = on_a_line([i + 0.5 for i in range(0, 98, 2)] + [500 + i for i in range(49)])
    r = prdc(on_a_line(range(100)), fake, k=1)
    assert r.precision == pytest.approx(0.5)


def test_too_few_points_for_k():
    with pytest.raises(GanforgeError, match="k=5"):
        prdc(on_a_line(range(5)), on_a_line(range(10)), k=5)
