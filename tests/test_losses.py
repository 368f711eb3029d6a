"""Adversarial losses against their closed forms on logits."""

import math

import pytest
import torch

from ganforge.errors import GanforgeError
from ganforge.losses import LOSSES, d_loss_bce, g_loss_minimax, g_loss_nonsat


def test_bce_at_even_odds_is_two_log_two():
    zero = torch.zeros(5)
    assert d_loss_bce(zero, zero).item() == pytest.approx(2 * math.log(2))


def test_bce_matches_log_probabilities():
    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])
    expected = -(torch.log(torch.sigmoid(real)).mean() + torch.log(1 - torch.sigmoid(fake)).mean())
    assert d_loss_bce(real, fake).item() == pytest.approx(expected.item(), rel=1e-6)


def test_generator_losses_closed_forms():
    logits = torch.tensor([1.5, -0.5, 0.0])
    p = torch.sigmoid(logits)
    assert g_loss_nonsat(logits).item() == pytest.approx(-torch.log(p).mean().item(), rel=1e-6)
    assert g_loss_minimax(logits).item() == pytest.approx(torch.log(1 - p).mean().item(), rel=1e-6)


def test_gradients_push_fakes_towards_real():
    for g_loss in (g_loss_nonsat, g_loss_minimax):
        logits = torch.tensor([-2.0, 0.0, 2.0], requires_grad=True)
        g_loss(logits).backward()
        assert (logits.grad < 0).all()  # descending the loss raises D's "real" logit


def test_minimax_gradient_vanishes_when_d_is_confident():
    """Why non-saturating is the default: minimax gives G almost nothing when D rejects its fakes."""
    grads = {}
    for name, g_loss in (("nonsat", g_loss_nonsat), ("minimax", g_loss_minimax)):
        logits = torch.tensor([-8.0], requires_grad=True)
        g_loss(logits).backward()
        grads[name] = logits.grad.abs().item()
    assert grads["minimax"] < 1e-3 < 0.9 < grads["nonsat"]


def test_unknown_loss_suggests_a_name():
    with pytest.raises(GanforgeError, match="Did you mean 'nonsat'"):
        LOSSES.get("nonsatt")
