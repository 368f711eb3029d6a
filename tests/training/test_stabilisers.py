"""Each stabiliser's contract: what it guarantees, checked directly."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ganforge.data.augment import ADA_ADJUST_EVERY, ADA_MAX_P, AdaptiveAugment, diff_augment
from ganforge.models import create_model
from ganforge.models.layers import MinibatchStd, apply_spectral_norm, pack
from ganforge.training.d_input import DiscriminatorInput
from ganforge.training.ema import WeightAverage, make_ema, update_ema


def test_spectral_norm_bounds_the_top_singular_value():
    torch.manual_seed(0)
    D = nn.Sequential(nn.Linear(6, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))
    with torch.no_grad():
        D[0].weight.mul_(20)  # top singular value far above 1
    assert torch.linalg.matrix_norm(D[0].weight, 2) > 5
    apply_spectral_norm(D)
    for _ in range(20):  # power iterations run on each training-mode forward
        D(torch.randn(4, 6))
    for layer in (D[0], D[2]):
        assert torch.linalg.matrix_norm(layer.weight.detach(), 2).item() == pytest.approx(1.0, abs=0.02)


def test_spectral_norm_on_a_conv_discriminator_keeps_it_trainable():
    _, D = create_model("dcgan", resolution=16, channels=1, d_width=4)
    apply_spectral_norm(D)
    out = D(torch.randn(2, 1, 16, 16))
    out.sum().backward()
    assert out.shape == (2,)
    assert all(p.grad is not None for p in D.parameters())


def test_ema_update_formula():
    G = nn.Linear(3, 2)
    ema = make_ema(G)
    before = [p.clone() for p in ema.parameters()]
    with torch.no_grad():
        for p in G.parameters():
            p.add_(1.0)
    update_ema(ema, G, beta=0.9)
    for old, new, current in zip(before, ema.parameters(), G.parameters()):
        torch.testing.assert_close(new, 0.9 * old + 0.1 * current)



def test_weight_average_follows_optimizer_steps():
    """The training loop gathers the parameter lists once: later in-place updates (an optimiser) must count."""
    G = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    ema = make_ema(G)
    average = WeightAverage(ema, G)
    optimizer = torch.optim.SGD(G.parameters(), lr=0.5)
    for _ in range(2):
        before = [p.clone() for p in ema.parameters()]
        G.train()(torch.randn(8, 3)).square().sum().backward()  # BN's running statistics move too
        optimizer.step()
        average(0.75)
        for old, new, current in zip(before, ema.parameters(), G.parameters()):
            torch.testing.assert_close(new, 0.75 * old + 0.25 * current)
        torch.testing.assert_close(ema[1].running_mean, G[1].running_mean)

def test_packing_shapes_and_grouping():
    images = torch.arange(4 * 2 * 3 * 3, dtype=torch.float32).view(4, 2, 3, 3)
    packed = pack(images, 2)
    assert packed.shape == (2, 4, 3, 3)
    torch.testing.assert_close(packed[1, 2:], images[3])  # group 1 = samples 2 and 3, in order
    assert pack(torch.zeros(6, 2), 3).shape == (2, 6)
    with pytest.raises(ValueError):
        pack(torch.zeros(5, 2), 2)


@pytest.mark.parametrize("model,shape", [("dcgan", (8, 3, 16, 16)), ("mlp", (8, 2))])
def test_packed_discriminators_judge_groups(model, shape):
    kwargs = dict(resolution=16, channels=3, g_width=4, d_width=4) if model == "dcgan" else dict(d_width=8)
    _, D = create_model(model, pack=4, minibatch_std=True, **kwargs)
    logits = DiscriminatorInput(D, pack_size=4)(torch.randn(shape))
    assert logits.shape == (2,)


def test_minibatch_std_appends_the_batch_spread():
    layer = MinibatchStd(group_size=4)
    same = torch.ones(8, 3, 2, 2)
    out = layer(same)
    assert out.shape == (8, 4, 2, 2)
    assert out[:, 3].abs().max().item() < 1e-3  # identical samples: no spread
    varied = layer(torch.randn(8, 5))
    assert varied.shape == (8, 6) and (varied[:, 5] > 0.3).all()


def test_diff_augment_is_identity_at_p0_and_differentiable():
    x = torch.randn(6, 3, 16, 16, requires_grad=True)
    assert torch.equal(diff_augment(x, 0.0), x)
    torch.manual_seed(0)
    y = diff_augment(x, 1.0)
    assert y.shape == x.shape and not torch.allclose(y, x)
    y.square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_diff_augment_translation_moves_content():
    x = torch.zeros(1, 1, 16, 16)
    x[0, 0, 8, 8] = 1.0
    torch.manual_seed(3)
    from ganforge.data.augment import _translate

    moved = _translate(x, 1.0)
    assert moved.sum().item() in (0.0, 1.0)  # a pixel is shifted, never duplicated or blurred
    shifts = {tuple(_translate(x, 1.0)[0, 0].nonzero().flatten().tolist()) for _ in range(20)}
    assert len(shifts) > 3


def test_ada_probability_follows_the_overfitting_signal():
    ada = AdaptiveAugment(p=0.0, adaptive=True, target=0.6, batch_size=2000)
    for _ in range(ADA_ADJUST_EVERY * 3):
        ada.observe(torch.tensor(0.9))  # D sure of every real: overfitting
    assert ada.p == pytest.approx(3 * ada.step_size)
    for _ in range(ADA_ADJUST_EVERY * 100):
        ada.observe(torch.tensor(0.9))
    assert ada.p == ADA_MAX_P
    for _ in range(ADA_ADJUST_EVERY * 200):
        ada.observe(torch.tensor(0.1))
    assert ada.p == 0.0
    fixed = AdaptiveAugment(p=0.3, adaptive=False)
    fixed.observe(torch.tensor(1.0))
    assert fixed.p == 0.3


def test_instance_noise_anneals_linearly_to_zero():
    d_input = DiscriminatorInput(nn.Linear(2, 1), instance_noise=0.2, noise_anneal_steps=100)
    stds = []
    for step in (0, 50, 100, 150):
        d_input.update(step, {})
        stds.append(d_input.noise_std)
    assert stds == pytest.approx([0.2, 0.1, 0.0, 0.0])


def test_ada_resumed_mid_window_adjusts_on_time():
    straight = AdaptiveAugment(p=0.0, adaptive=True, target=0.6, batch_size=2000)
    first = AdaptiveAugment(p=0.0, adaptive=True, target=0.6, batch_size=2000)
    for ada in (straight, first):
        for _ in range(ADA_ADJUST_EVERY - 1):
            ada.observe(torch.tensor(1.0))
    resumed = AdaptiveAugment(p=0.0, adaptive=True, target=0.6, batch_size=2000)
    resumed.load_state_dict(first.state_dict())
    for ada in (straight, resumed):
        ada.observe(torch.tensor(1.0))
    assert resumed.p == straight.p > 0
