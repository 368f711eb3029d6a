"""The style-based generator's parts: mapping, modulation and demodulation, noise, w+, truncation, style mixing,
and the residual D (the registry's contract tests cover shapes, ranges and gradients at 16-64 px)."""

import pytest
import torch
import torch.nn.functional as F

from ganforge.models import create_model
from ganforge.models.stylegan_layers import ModulatedConv, modulated_conv

TINY = dict(channels=3, latent_dim=16, g_width=4, d_width=4)


def _pair(resolution=32, **kwargs):
    torch.manual_seed(0)
    return create_model("stylegan", resolution=resolution, **{**TINY, **kwargs})


@pytest.mark.parametrize("resolution,aspect,size", [(16, "1:1", (16, 16)), (32, "2:1", (32, 64)),
                                                    (64, "1:1", (64, 64)), (256, "1:1", (256, 256))])
def test_shapes_at_every_resolution_and_aspect(resolution, aspect, size):
    G, D = _pair(resolution, aspect=aspect, g_width=2, d_width=2)
    images = G(torch.randn(2, 16))
    assert images.shape == (2, 3, *size) and images.abs().max() <= 1
    assert D(images).shape == (2,)
    assert G.num_ws == 2 * (len(G.synthesis.to_images))  # two style inputs per resolution


def test_every_parameter_gets_a_gradient_and_nothing_is_nan():
    G, D = _pair(mapping_layers=4)
    assert len(G.mapping.layers) == 4
    z = torch.randn(4, 16)
    loss = D(G(z, torch.randn(4, 16), 3)).sum()  # with style mixing: both w paths in use
    loss.backward()
    for net in (G, D):
        for name, p in net.named_parameters():
            assert p.grad is not None and torch.isfinite(p.grad).all(), name
            assert p.grad.abs().sum() > 0, name


def test_grouped_conv_form_equals_the_activation_scaling_form():
    torch.manual_seed(0)
    x, weight, styles = torch.randn(3, 5, 8, 8), torch.randn(7, 5, 3, 3), torch.randn(3, 5)
    for demodulate in (True, False):
        torch.testing.assert_close(modulated_conv(x, weight, styles, demodulate, fused=True),
                                   modulated_conv(x, weight, styles, demodulate, fused=False), atol=1e-5, rtol=1e-4)


def test_demodulation_keeps_unit_variance_whatever_the_style():
    """Demodulated outputs of unit-variance inputs have unit variance however large the style (StyleGAN2 eq. 3)."""
    torch.manual_seed(0)
    conv = ModulatedConv(64, 64, w_dim=8)
    x = torch.randn(4, 64, 16, 16)
    for scale in (0.1, 1.0, 10.0):
        out = conv(x, torch.randn(4, 8) * scale)
        assert out[..., 1:-1, 1:-1].std().item() == pytest.approx(1.0, rel=0.15)


def test_eval_mode_is_deterministic_and_training_draws_fresh_noise():
    G, _ = _pair()
    z = torch.randn(2, 16)
    for layer in G.synthesis.layers:  # give the noise a visible weight
        torch.nn.init.constant_(layer.noise.strength, 0.5)
    G.eval()
    with torch.no_grad():
        assert torch.equal(G(z), G(z))
    G.train()
    with torch.no_grad():
        assert not torch.equal(G(z), G(z))


def test_mean_w_is_tracked_in_training_and_truncation_pulls_to_it():
    G, _ = _pair()
    assert torch.count_nonzero(G.w_avg) == 0
    G.train()
    with torch.no_grad():
        w = G.mapping(torch.randn(64, 16))
        G.map(torch.randn(64, 16))
    assert torch.count_nonzero(G.w_avg) > 0
    G.eval()
    before = G.w_avg.clone()
    with torch.no_grad():
        collapsed = G.map(torch.randn(5, 16), truncation=0.0)
        half = G.map(torch.randn(5, 16), truncation=0.5)
    assert torch.equal(G.w_avg, before)  # eval mode leaves it alone
    torch.testing.assert_close(collapsed, G.w_avg.expand(5, -1))
    assert (half - G.w_avg).norm(dim=1).mean() < (w - G.w_avg).norm(dim=1).mean()


def test_swapping_the_first_layers_changes_low_frequencies_more_than_swapping_the_last():
    """Coarse styles (the first layers, at 4-8 px) set the layout; fine ones (the last) colour and texture."""
    low_coarse, low_fine = [], []
    for seed in range(3):
        torch.manual_seed(seed)
        G, _ = create_model("stylegan", resolution=32, channels=3, latent_dim=16, g_width=8, d_width=8)
        G.eval()
        with torch.no_grad():
            a, b = G.ws(G.map(torch.randn(16, 16))), G.ws(G.map(torch.randn(16, 16)))
            base = G.synthesis(a)
            coarse = G.synthesis(torch.cat([b[:, :4], a[:, 4:]], 1))  # first 4 of 8 style inputs swapped
            fine = G.synthesis(torch.cat([a[:, :4], b[:, 4:]], 1))  # last 4 swapped
        low_coarse.append(F.avg_pool2d(coarse - base, 8).square().mean())  # the change at 4x4 blocks
        low_fine.append(F.avg_pool2d(fine - base, 8).square().mean())
    assert sum(low_coarse) > 1.2 * sum(low_fine)


def test_mixing_takes_the_second_w_from_the_cutoff_on():
    G, _ = _pair()
    G.eval()
    z, z2 = torch.randn(2, 16), torch.randn(2, 16)
    with torch.no_grad():
        mixed = G(z, z2, 2)
        expected = G.synthesis(torch.cat([G.ws(G.map(z))[:, :2], G.ws(G.map(z2))[:, 2:]], 1))
    torch.testing.assert_close(mixed, expected)


def test_discriminator_features_and_maps():
    _, D = _pair()
    x = torch.rand(4, 3, 32, 32) * 2 - 1
    maps = D.feature_maps(x)
    assert [m.shape[-1] for m in maps] == [32, 16, 8, 4]
    assert D.features(x).shape == (4, 32)  # the 4 px width: 4 x WIDTH_CAP
