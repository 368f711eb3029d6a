"""The three loss terms against hand computations, and when each must be zero."""

import pytest
import torch

from ganforge.style.colour import keep_colours, luminance_image, to_yiq
from ganforge.style.losses import content_loss, gram, style_loss, tv_loss


def test_gram_matches_a_hand_computation():
    # Two channels over a 1x2 image: F = [[1, 2], [3, 4]]; F F^T = [[5, 11], [11, 25]]; divided by C*H*W = 4.
    features = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).view(1, 2, 1, 2)
    expected = torch.tensor([[5.0, 11.0], [11.0, 25.0]]) / 4
    assert torch.allclose(gram(features)[0], expected)


def test_gram_is_the_same_in_channels_last_layout():
    features = torch.randn(2, 5, 7, 3, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(gram(features), gram(features.contiguous(memory_format=torch.channels_last)), atol=1e-6)


def test_content_loss_is_zero_for_equal_features_and_relative_otherwise():
    target = torch.randn(1, 4, 6, 6, generator=torch.Generator().manual_seed(1))
    assert content_loss(target.clone(), target).item() == 0.0
    assert content_loss(torch.zeros_like(target), target).item() == pytest.approx(1.0)  # as large as the target
    assert content_loss(2 * target, target).item() == pytest.approx(1.0)


def test_style_loss_is_zero_for_a_spatially_shuffled_copy_but_content_loss_is_not():
    features = torch.randn(1, 6, 8, 8, generator=torch.Generator().manual_seed(2))
    order = torch.randperm(64, generator=torch.Generator().manual_seed(3))
    shuffled = features.flatten(2)[..., order].view_as(features)
    assert style_loss(shuffled, gram(features)).item() == pytest.approx(0.0, abs=1e-6)
    assert content_loss(shuffled, features).item() > 0.5
    assert style_loss(torch.zeros_like(features), gram(features)).item() == pytest.approx(1.0)


def test_tv_loss_is_zero_for_a_flat_image_and_matches_a_hand_computation():
    assert tv_loss(torch.full((1, 3, 5, 5), 0.3)).item() == 0.0
    # A 2x2 one-channel image [[0, 1], [0, 1]]: vertical differences 0, 0; horizontal differences 1, 1.
    image = torch.tensor([[0.0, 1.0], [0.0, 1.0]]).view(1, 1, 2, 2)
    assert tv_loss(image).item() == pytest.approx(0.0 + 1.0)


def test_colour_preservation_keeps_the_contents_colours_and_the_results_luminance():
    g = torch.Generator().manual_seed(4)
    # Moderate colours, so that no channel leaves [-1, 1] and gets clipped.
    content = torch.rand(1, 1, 8, 8, generator=g) - 0.5 + (torch.rand(1, 3, 8, 8, generator=g) - 0.5) * 0.2
    result = torch.rand(1, 3, 8, 8, generator=g) - 0.5
    mixed = keep_colours(result, content)
    assert torch.allclose(to_yiq(mixed)[:, 1:], to_yiq(content)[:, 1:], atol=1e-4)
    assert torch.allclose(to_yiq(mixed)[:, :1], to_yiq(result)[:, :1], atol=1e-4)


def test_luminance_image_is_grey_and_matches_the_reference_brightness():
    g = torch.Generator().manual_seed(5)
    dark, bright = torch.rand(1, 3, 8, 8, generator=g) - 1, torch.rand(1, 3, 8, 8, generator=g)
    grey = luminance_image(dark, like=bright)
    assert torch.equal(grey[:, 0], grey[:, 1]) and torch.equal(grey[:, 1], grey[:, 2])
    assert to_yiq(grey)[:, 0].mean().item() == pytest.approx(to_yiq(bright)[:, 0].mean().item(), abs=1e-3)
