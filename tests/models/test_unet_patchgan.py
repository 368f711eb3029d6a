"""U-Net generator and PatchGAN discriminator: shapes, skip connections, receptive fields."""

from __future__ import annotations

import pytest
import torch

from ganforge.errors import GanforgeError
from ganforge.models import create_model
from ganforge.models.patchgan import PatchDiscriminator, patch_grid_size, receptive_field
from ganforge.models.unet import UNetGenerator


@pytest.mark.parametrize("resolution", [16, 32, 64])
@pytest.mark.parametrize(("c_in", "c_out"), [(1, 3), (3, 1)])
def test_unet_keeps_the_size_and_changes_the_channels(resolution: int, c_in: int, c_out: int) -> None:
    torch.manual_seed(0)
    G = UNetGenerator(c_in, c_out, resolution, width=4)
    x = torch.randn(2, c_in, resolution, resolution)
    y = G(x)
    assert y.shape == (2, c_out, resolution, resolution)
    assert y.abs().max() <= 1  # tanh output
    assert G.depth == resolution.bit_length() - 1 and G.stride == resolution  # depth follows the resolution


@pytest.mark.parametrize("resolution", [16, 32, 64])
def test_unet_skips_carry_the_input_past_a_dead_bottleneck(resolution: int) -> None:
    """With the 1x1 bottleneck forced to zero, only the skip connections can carry the input to the output."""
    torch.manual_seed(0)
    G = UNetGenerator(1, 1, resolution, width=4).eval()
    G.down[-1].register_forward_hook(lambda module, inputs, output: torch.zeros_like(output))
    a, b = torch.randn(1, 1, resolution, resolution), torch.randn(1, 1, resolution, resolution)
    assert not torch.allclose(G(a), G(b), atol=1e-4)
    # and every decoder level below the innermost one concatenates an encoder output of its own width
    widths = [block[-1].out_channels if isinstance(block[-1], torch.nn.Conv2d) else block[-2].out_channels
              for block in G.down]
    for level, block in zip(reversed(range(G.depth - 1)), list(G.up)[1:]):
        assert block[1].in_channels == 2 * widths[level]


def test_a_plain_encoder_decoder_would_fail_the_skip_test() -> None:
    """The same check on the first encoder block (everything flows through it) sees no dependence at all."""
    torch.manual_seed(0)
    G = UNetGenerator(1, 1, 16, width=4).eval()
    G.down[0].register_forward_hook(lambda module, inputs, output: torch.zeros_like(output))
    a, b = torch.randn(1, 1, 16, 16), torch.randn(1, 1, 16, 16)
    assert torch.equal(G(a), G(b))


@pytest.mark.parametrize(("patch_size", "size", "grid"), [(16, 32, 14), (34, 32, 6), (70, 64, 6), (70, 256, 30),
                                                            (142, 256, 14)])
def test_patchgan_output_grid(patch_size: int, size: int, grid: int) -> None:
    D = PatchDiscriminator(channels=4, width=4, patch_size=patch_size)
    assert D(torch.randn(2, 4, size, size)).shape == (2, 1, grid, grid)
    assert patch_grid_size(size, patch_size) == grid


@pytest.mark.parametrize("patch_size", [16, 34, 70])
def test_patchgan_logit_sees_exactly_its_receptive_field(patch_size: int) -> None:
    """Backpropagate from one logit in the middle: the input pixels with a gradient span patch_size."""
    torch.manual_seed(0)
    D = PatchDiscriminator(channels=2, width=4, patch_size=patch_size).eval()  # eval: no batch-statistics mixing
    size = 2 * patch_size + 32
    x = torch.randn(1, 2, size, size, requires_grad=True)
    logits = D(x)
    middle = logits.shape[-1] // 2
    logits[0, 0, middle, middle].backward()
    touched = (x.grad[0].abs().sum(0) > 0).nonzero()
    extent = (touched.max(0).values - touched.min(0).values + 1).tolist()
    assert extent == [patch_size, patch_size]
    assert receptive_field({16: 1, 34: 2, 70: 3}[patch_size]) == patch_size  # the formula agrees


def test_patch_size_must_be_a_patchgan_field() -> None:
    with pytest.raises(GanforgeError, match="--patch-size must be one of 16, 34, 70, 142, 286"):
        PatchDiscriminator(channels=2, patch_size=64)


def test_pix2pix_discriminator_sees_input_and_output() -> None:
    G, D = create_model("pix2pix", resolution=32, in_channels=1, out_channels=3, g_width=4, d_width=4, patch_size=16)
    assert D.net[0].in_channels == 1 + 3
