"""CycleGAN's parts: the generators, the cycle and identity losses, the history buffer, one step, the doctor."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ganforge.losses.factory import make_loss
from ganforge.metrics.unpaired import diagnose
from ganforge.models import create_model
from ganforge.models.cyclegan import CycleGenerators, ResnetGenerator, default_blocks
from ganforge.recipes.base import StepParts
from ganforge.recipes.unpaired import CycleStep, ImagePool, cycle_loss, identity_loss


def test_resnet_generator_keeps_any_multiple_of_four_and_uses_instance_norm():
    G = ResnetGenerator(1, 3, width=4, blocks=2)
    out = G(torch.rand(2, 1, 20, 36) * 2 - 1)
    assert out.shape == (2, 3, 20, 36) and out.abs().max() <= 1
    assert any(isinstance(m, nn.InstanceNorm2d) for m in G.modules())
    assert not any(isinstance(m, nn.BatchNorm2d) for m in G.modules())
    assert (default_blocks(256), default_blocks(128), default_blocks(32)) == (9, 6, 6)  # as in the paper


@pytest.mark.parametrize("generator", ["resnet", "unet"])
def test_both_directions_map_between_the_domains_channels(generator):
    G, D = create_model("cyclegan", resolution=16, in_channels=1, out_channels=3, g_width=4, d_width=4,
                        patch_size=16, generator=generator)
    a, b = torch.rand(2, 1, 16, 16), torch.rand(2, 3, 16, 16)
    assert G.direction("AtoB")(a).shape == (2, 3, 16, 16) and G.direction("BtoA")(b).shape == (2, 1, 16, 16)
    assert D.A(a).shape[1] == 1 and D.B(b).shape[1] == 1
    assert not any(isinstance(m, nn.BatchNorm2d) for net in (G, D) for m in net.modules())


def test_cycle_and_identity_losses_match_their_closed_forms():
    a, rec_a = torch.zeros(1, 1, 2, 2), torch.tensor([[[[1.0, -1.0], [0.5, 0.0]]]])  # mean |diff| = 2.5 / 4
    b, rec_b = torch.ones(1, 3, 1, 2), torch.full((1, 3, 1, 2), 0.8)  # mean |diff| = 0.2
    assert cycle_loss(a, rec_a, b, rec_b).item() == pytest.approx(0.625 + 0.2)
    assert identity_loss(a, rec_a, b, rec_b).item() == pytest.approx(0.625 + 0.2)


class Shift(nn.Module):
    """x + c: a generator whose every loss term has a closed form."""

    stride = 1

    def __init__(self, c: float) -> None:
        super().__init__()
        self.c = nn.Parameter(torch.tensor(c))

    def forward(self, x):
        return x + self.c


class Constant(nn.Module):
    """A discriminator that says `value` everywhere (with a parameter so it has an optimiser)."""

    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = nn.Parameter(torch.tensor(value))

    def forward(self, x):
        return self.value.expand(x.shape[0], 1, 2, 2)


def test_one_step_adds_the_terms_with_the_papers_weights():
    """G_AtoB = x + 0.1, G_BtoA = x - 0.3, D = 0.5 everywhere, lsgan: every term is known in closed form."""
    G = CycleGenerators(Shift(0.1), Shift(-0.3))
    D = nn.Module()
    D.A, D.B = Constant(0.5), Constant(0.5)
    parts = StepParts(G, D, torch.optim.SGD(G.parameters(), 0.0), torch.optim.SGD(D.parameters(), 0.0),
                      torch.device("cpu"))
    step = CycleStep(parts, make_loss("lsgan"), (1, 1), [ImagePool(0), ImagePool(0)], cycle_weight=10.0,
                     identity_weight=0.5, paired_weight=3.0, adversarial_scale=2.0)
    real = torch.zeros(2, 4, 4, 4)  # A, B, then a known pair (A, B), one channel each
    stats = step(real)
    adversarial = 2 * (0.5 * (0.5 - 1) ** 2)  # both directions, lsgan's 1/2 (D - 1)^2
    cycle = 0.2 + 0.2  # a -> a + 0.1 -> a - 0.2, and b -> b - 0.3 -> b - 0.2
    identity = 0.3 + 0.1  # G_BtoA(a) = a - 0.3, G_AtoB(b) = b + 0.1
    paired = 0.1 + 0.3
    assert stats["loss/cycle"].item() == pytest.approx(cycle)
    assert stats["loss/identity"].item() == pytest.approx(identity)
    assert stats["loss/paired_L1"].item() == pytest.approx(paired)
    expected = 2.0 * adversarial + 10 * cycle + 10 * 0.5 * identity + 3.0 * paired
    assert stats["loss/G"].item() == pytest.approx(expected)
    assert stats["loss/D"].item() == pytest.approx(2 * (0.5 * 0.5**2 + 0.5 * 0.5**2))


def test_the_image_pool_fills_then_swaps_half_for_stored_images():
    pool = ImagePool(size=4, seed=0)
    first = torch.arange(4.0).view(4, 1, 1, 1)
    assert torch.equal(pool.query(first), first)  # not full yet: every image passes through and is kept
    new = torch.arange(100.0, 164.0).view(64, 1, 1, 1)
    out = pool.query(new)
    swapped = out.flatten() != new.flatten()  # D sees a remembered image instead of this one
    assert 16 < int(swapped.sum()) < 48  # about half
    assert all(v in set(range(100, 164)) | set(range(4)) for v in out.flatten().tolist())
    assert len(pool.stored) == 4


def test_the_image_pool_resumes_exactly():
    a, b = ImagePool(size=3, seed=5), ImagePool(size=3, seed=99)
    batch = torch.randn(5, 1, 2, 2)
    a.query(batch)
    b.load_state_dict(a.state_dict(), torch.device("cpu"))
    later = torch.randn(6, 1, 2, 2)
    assert torch.equal(a.query(later), b.query(later))
    assert torch.equal(ImagePool(0).query(later), later)  # size 0: no history


def test_the_doctor_names_steganography_and_stays_quiet_otherwise():
    hidden = {"cycle_l1": 0.004, "input_l1": 0.2, "kid": 0.9, "kid_untranslated": 1.0}
    note = diagnose("AtoB", hidden)
    assert "steganography" in note and "near zero" in note and "--cycle-weight" in note
    assert "equal its inputs" in diagnose("BtoA", {"cycle_l1": 0.001, "input_l1": 0.002})
    assert diagnose("AtoB", {**hidden, "kid": 0.1}) is None  # translations moved to B: a working cycle
    assert diagnose("AtoB", {**hidden, "cycle_l1": 0.2}) is None  # the cycle is not near zero
