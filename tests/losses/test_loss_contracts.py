"""Contract tests over every registered loss, plain and relativistic: finite scalars, gradients that push D and G
the right way, and a D loss that prefers a D telling real from fake."""

import pytest
import torch

from ganforge.losses.adversarial import LOSSES
from ganforge.losses.relativistic import RELATIVISTIC_LOSSES

REAL = torch.tensor([1.5, 0.5, 2.0, 1.0])
FAKE = torch.tensor([-1.0, -0.5, 0.0, -2.0])


def _d_loss(name, real, fake):
    return LOSSES.get(name).d_loss(real, fake) if name in LOSSES else RELATIVISTIC_LOSSES.get(name).d_loss(real, fake)


def _g_loss(name, real, fake):
    return LOSSES.get(name).g_loss(fake) if name in LOSSES else RELATIVISTIC_LOSSES.get(name).g_loss(real, fake)


EVERY_LOSS = LOSSES.names() + RELATIVISTIC_LOSSES.names()


@pytest.mark.parametrize("name", EVERY_LOSS)
def test_losses_are_finite_scalars(name):
    assert _d_loss(name, REAL, FAKE).shape == () and torch.isfinite(_d_loss(name, REAL, FAKE))
    assert _g_loss(name, REAL, FAKE).shape == () and torch.isfinite(_g_loss(name, REAL, FAKE))


@pytest.mark.parametrize("name", EVERY_LOSS)
def test_d_loss_is_lower_for_a_d_that_tells_real_from_fake(name):
    """Swapping the logits (D calls the reals fake and the fakes real) must cost D more."""
    assert _d_loss(name, REAL, FAKE) < _d_loss(name, FAKE, REAL)


@pytest.mark.parametrize("name", EVERY_LOSS)
def test_gradients_push_each_player_its_own_way(name):
    """From an undecided D (logits near 0.5, between every loss's targets): D's descent raises real logits and
    lowers fake ones; G's descent raises fake logits."""
    real, fake = torch.zeros(4, requires_grad=True), torch.zeros(4, requires_grad=True)
    spread = torch.linspace(-0.1, 0.1, 4)
    _d_loss(name, real + 0.5 + spread, fake + 0.5 + spread).backward()
    assert (real.grad < 0).all() and (fake.grad > 0).all()
    fake_g = torch.zeros(4, requires_grad=True)
    _g_loss(name, torch.full((4,), 0.5), fake_g + 0.5 + spread).backward()
    assert (fake_g.grad < 0).all()
