"""Adversarial losses against their closed forms on logits, the direction each pushes, and D's penalties."""

import math

import pytest
import torch
from torch import nn

from ganforge.errors import GanforgeError
from ganforge.losses.adversarial import LOSSES, d_loss_bce, g_loss_minimax, g_loss_nonsat, gradient_penalty, r1_penalty
from ganforge.losses.factory import make_loss
from ganforge.losses.penalties import DiscriminatorPenalty, optimizer_steps

REAL, FAKE = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])


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


def test_hinge_lsgan_wgan_closed_forms():
    hinge = LOSSES.get("hinge")
    # relu(1 - [2, -1]) = [0, 2]; relu(1 + [0.5, -3]) = [1.5, 0]
    assert hinge.d_loss(REAL, FAKE).item() == pytest.approx(1.0 + 0.75)
    assert hinge.g_loss(FAKE).item() == pytest.approx(1.25)
    ls = LOSSES.get("lsgan")
    # 0.5 * mean([1, 4]) + 0.5 * mean([0.25, 9])
    assert ls.d_loss(REAL, FAKE).item() == pytest.approx(1.25 + 2.3125)
    assert ls.g_loss(FAKE).item() == pytest.approx(0.5 * (0.25 + 16) / 2)
    wgan = LOSSES.get("wgan-gp")
    assert wgan.d_loss(REAL, FAKE).item() == pytest.approx(-1.25 - 0.5)
    assert wgan.g_loss(FAKE).item() == pytest.approx(1.25)
    assert wgan.gradient_penalty == 10.0


@pytest.mark.parametrize("name", LOSSES.names())
def test_gradient_signs(name):
    """Undecided (logit 0.5): D's descent raises real logits and lowers fake ones; G's raises fake logits."""
    loss = LOSSES.get(name)
    real, fake = torch.full((4,), 0.5, requires_grad=True), torch.full((4,), 0.5, requires_grad=True)
    loss.d_loss(real, fake).backward()
    assert (real.grad < 0).all() and (fake.grad > 0).all()
    fake_g = torch.full((4,), 0.5, requires_grad=True)
    loss.g_loss(fake_g).backward()
    assert (fake_g.grad < 0).all()


def test_one_sided_label_smoothing_targets_reals_only():
    smoothed = make_loss("nonsat", label_smoothing=0.1)
    # with real logit log(0.9/0.1), D's real term is at its minimum: gradient 0
    real = torch.full((3,), math.log(9.0), requires_grad=True)
    smoothed.d_loss(real, torch.zeros(3)).backward()
    assert real.grad.abs().max().item() < 1e-6
    # fakes still aim for 0: same fake term as without smoothing
    plain = make_loss("nonsat")
    assert (smoothed.d_loss(torch.zeros(2), FAKE) - plain.d_loss(torch.zeros(2), FAKE)).item() == pytest.approx(
        float(torch.nn.functional.binary_cross_entropy_with_logits(torch.zeros(2), torch.full((2,), 0.9))
              - torch.nn.functional.softplus(-torch.zeros(2)).mean()), abs=1e-6)
    with pytest.raises(GanforgeError, match="label-smoothing"):
        make_loss("hinge", 0.1)


def test_r1_and_gradient_penalty_on_a_linear_critic():
    """For D(x) = w.x the input gradient is w everywhere: R1 = |w|^2, GP = (|w| - 1)^2."""
    D = nn.Linear(3, 1, bias=False)
    with torch.no_grad():
        D.weight.copy_(torch.tensor([[3.0, 0.0, 4.0]]))  # |w| = 5
    x = torch.randn(6, 3, requires_grad=True)
    assert r1_penalty(D(x).flatten(), x).item() == pytest.approx(25.0)
    assert gradient_penalty(D(x).flatten(), x).item() == pytest.approx(16.0)


def test_lazy_r1_runs_every_kth_update_scaled_by_k():
    D = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        D.weight.fill_(1.0)  # |w|^2 = 2
    penalty = DiscriminatorPenalty(r1_gamma=1.0, r1_every=4)
    real = torch.randn(5, 2)
    values = [penalty(lambda x: D(x).flatten(), real, real, update=k) for k in range(8)]
    assert [v is not None for v in values] == [True, False, False, False] * 2
    assert values[0].item() == pytest.approx(0.5 * 4 * 2.0)  # gamma/2 * k * |grad|^2


def test_d_updates_are_counted_by_the_optimiser():
    """The lazy R1 schedule needs no state of its own: D's optimiser counts the updates (resume, rollback)."""
    weight = nn.Parameter(torch.ones(2))
    opt = torch.optim.Adam([weight], lr=0.1)
    assert optimizer_steps(opt) == 0
    for _ in range(3):
        weight.sum().backward()
        opt.step()
    assert optimizer_steps(opt) == 3


def test_rpgan_pairs_each_real_with_its_fake():
    """RpGAN: D's loss softplus(-(D(x_i) - D(G(z_i)))) and G's softplus(-(D(G(z_i)) - D(x_i))), averaged over pairs."""
    from ganforge.losses.relativistic import RELATIVISTIC_LOSSES

    loss = RELATIVISTIC_LOSSES.get("rpgan")
    real, fake = torch.tensor([2.0, 0.0]), torch.tensor([0.0, 1.0])
    expected_d = (math.log1p(math.exp(-2.0)) + math.log1p(math.exp(1.0))) / 2
    expected_g = (math.log1p(math.exp(2.0)) + math.log1p(math.exp(-1.0))) / 2
    assert loss.d_loss(real, fake).item() == pytest.approx(expected_d)
    assert loss.g_loss(real, fake).item() == pytest.approx(expected_g)
    # pairs, not averages: the same logits paired the other way give another loss
    assert loss.d_loss(real, fake.flip(0)).item() != pytest.approx(expected_d)
    assert loss.d_loss(real + 5, fake + 5).item() == pytest.approx(expected_d)  # only differences count
    assert loss.relativistic


def test_squared_gradient_norms_per_sample_on_a_quadratic_critic():
    """D(x) = |x|^2 / 2 has gradient x: each sample's squared norm is |x_i|^2 (R1 on reals, R2 on fakes)."""
    from ganforge.losses.adversarial import squared_gradient_norms

    x = torch.tensor([[3.0, 4.0], [1.0, 0.0]], requires_grad=True)
    norms = squared_gradient_norms(0.5 * x.pow(2).sum(1), x)
    torch.testing.assert_close(norms, torch.tensor([25.0, 1.0]))
    norms.sum().backward()  # differentiable: the penalty trains D
    torch.testing.assert_close(x.grad, 2 * x.detach())
