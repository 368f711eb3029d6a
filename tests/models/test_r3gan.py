"""R3GAN's networks: no normalisation, blocks that start as the identity, the paper's init scaling, low-pass
resampling and the class-conditional variant (the contract tests cover shapes, ranges and gradients)."""

import math

import pytest
import torch
from torch import nn

from ganforge.models import create_model
from ganforge.models.r3gan import (
    ACTIVATION_GAIN,
    Resample,
    ResidualBlock,
    groups_for,
    stage_widths,
)


def test_no_normalisation_layers_and_grouped_convs():
    G, D = create_model("r3gan", resolution=32, channels=1, latent_dim=8, g_width=16, d_width=16)
    for net in (G, D):
        assert not any(isinstance(m, (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm))
                       for m in net.modules())
        spatial = [m.spatial for m in net.modules() if isinstance(m, ResidualBlock)]
        assert spatial and all(c.groups == c.in_channels // 16 and c.kernel_size == (3, 3) for c in spatial)
    assert stage_widths(32, 16) == [64, 64, 32, 16]  # at 4, 8, 16, 32 px
    assert groups_for(32) == 2 and groups_for(8) == 1


def test_every_residual_block_starts_as_the_identity():
    torch.manual_seed(0)
    block = ResidualBlock(16, total_blocks=8)
    assert torch.count_nonzero(block.project.weight) == 0
    x = torch.randn(2, 16, 8, 8)
    assert torch.equal(block(x), x)


def test_fixup_init_scales_the_branch_by_the_number_of_blocks():
    """Weights N(0, gain / sqrt(fan_in)) with gain = leaky ReLU's gain x L^(-1/4) (L blocks, 3 layers each)."""
    torch.manual_seed(0)
    blocks = 16
    block = ResidualBlock(128, total_blocks=blocks)
    expected = ACTIVATION_GAIN * blocks ** -0.25 / math.sqrt(128)
    assert block.expand.weight.std().item() == pytest.approx(expected, rel=0.02)
    assert block.spatial.weight.std().item() == pytest.approx(ACTIVATION_GAIN * blocks ** -0.25 / math.sqrt(16 * 9),
                                                               rel=0.02)
    assert torch.count_nonzero(block.expand.bias) == 0


def test_lowpass_resampling_keeps_flat_maps_flat_away_from_the_border():
    x = torch.full((1, 3, 8, 8), 2.0)
    up, down = Resample(up=True)(x), Resample(up=False)(x)
    assert up.shape == (1, 3, 16, 16) and down.shape == (1, 3, 4, 4)
    torch.testing.assert_close(up[..., 1:-1, 1:-1], torch.full_like(up[..., 1:-1, 1:-1], 2.0))
    torch.testing.assert_close(down[..., 1:-1, 1:-1], torch.full_like(down[..., 1:-1, 1:-1], 2.0))
    ramp = torch.arange(8.0).repeat(8, 1).view(1, 1, 8, 8)  # bilinear: a ramp stays a ramp (half the slope)
    row = Resample(up=True)(ramp)[0, 0, 4, 2:-2]
    torch.testing.assert_close(row.diff(), torch.full_like(row.diff(), 0.5))


def test_the_conditional_pair_uses_the_labels():
    torch.manual_seed(0)
    G, D = create_model("conditional-r3gan", resolution=16, channels=1, latent_dim=8, g_width=4, d_width=4,
                        num_classes=3)
    z = torch.randn(1, 8).repeat(3, 1)
    labels = torch.arange(3)
    images = G(z, labels)
    assert not torch.allclose(images[0], images[1])
    x = images[:1].detach().repeat(3, 1, 1, 1)
    logits = D(x, labels)
    assert logits.shape == (3,) and len(set(logits.tolist())) == 3
    with pytest.raises(ValueError, match="at least 2 classes"):
        create_model("conditional-r3gan", num_classes=1)
