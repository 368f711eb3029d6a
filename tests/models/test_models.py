"""Contract tests over every registered model: plain layers, shapes, output range, gradients, no NaN."""

from itertools import product

import pytest
import torch

from ganforge.accel import AccelPolicy, accelerate
from ganforge.models import create_model, model_spec, model_specs
from ganforge.models.backbones import D_ARCHS, G_ARCHS
from ganforge.models.registry import model_parameters

IMAGE_MODELS = [s.name for s in model_specs() if not s.points]
POINT_MODELS = [s.name for s in model_specs() if s.points]
# every model that builds the backbones, with every --d-arch / --g-arch pair but the default one (tested above)
ARCH_MODELS = [name for name in IMAGE_MODELS if "d_arch" in model_parameters(name)]
ARCHES = [dict(d_arch=d, g_arch=g) for d, g in product(D_ARCHS, G_ARCHS) if (d, g) != ("dcgan", "dcgan")]
IMAGE_CASES = [(name, {}) for name in IMAGE_MODELS] + [(name, arch) for name in ARCH_MODELS for arch in ARCHES]


def _case_id(value):
    if isinstance(value, dict):
        return "-".join(f"{k[0]}={v}" for k, v in value.items()) or "own"
    return value


def _create(name, accelerated, **kwargs):
    """create_model's plain networks, or the same accelerated as the Trainer does on CPU (gradients flow to every
    parameter either way)."""
    G, D = create_model(name, **kwargs)
    assert not any(type(m).__module__.startswith("ganforge.accel") for net in (G, D) for m in net.modules())
    policy = AccelPolicy() if accelerated else AccelPolicy.plain()
    return accelerate(G, policy), accelerate(D, policy)


def _build(name, resolution, channels, accelerated=False, **arch):
    """G, D, a batch of 3 fakes, and D's per-sample score, whatever the model's inputs are (arch: the backbones)."""
    z = torch.randn(3, 8)
    if model_spec(name).inputs == "image":  # image -> image; D judges cat(input, output), one logit per patch
        G, D = _create(name, accelerated, resolution=resolution, in_channels=channels, out_channels=channels,
                       g_width=4, d_width=4, patch_size=16)
        source = torch.rand(3, channels, resolution, resolution) * 2 - 1
        if model_spec(name).recipe == "unpaired":  # two domains: each D judges translated images alone
            return G, D, G(source), lambda fake: D(fake).flatten(1).mean(1)
        return G, D, G(source), lambda fake: D(torch.cat([source, fake], 1)).flatten(1).mean(1)
    kwargs = dict(resolution=resolution, channels=channels, latent_dim=8, g_width=4, d_width=4, **arch)
    if model_spec(name).inputs == "latent+labels":  # (z, class) -> image; D(image, class)
        labels = torch.tensor([0, 1, 2])
        G, D = _create(name, accelerated, num_classes=3, **kwargs)
        return G, D, G(z, labels), lambda fake: D(fake, labels)
    G, D = _create(name, accelerated, **kwargs)
    if name == "msg":  # D judges every scale G makes; the full-size image is the last one
        scales = G.scales(z)
        return G, D, scales[-1], lambda fake: D(scales[:-1] + [fake])
    if name == "progressive":  # the last stage, mid-fade: every block and the last two RGB layers in use
        G.set_stage(G.last_stage, 0.5)
        D.set_stage(D.last_stage, 0.5)
    return G, D, G(z), D


SIZES = [(16, 1), (32, 3), (64, 3)]
# the backbones at two sizes (their layers per level are the same at 64 px, a level more), the models at three
CONTRACT_CASES = [(name, arch, *size) for name, arch in IMAGE_CASES for size in (SIZES[:2] if arch else SIZES)]


@pytest.mark.parametrize("name,arch,resolution,channels", CONTRACT_CASES, ids=_case_id)
@pytest.mark.parametrize("accelerated", [False, True], ids=["plain", "accelerated"])
def test_generator_and_discriminator_contract(name, arch, resolution, channels, accelerated):
    torch.manual_seed(0)
    G, D, fake, score = _build(name, resolution, channels, accelerated, **arch)
    assert fake.shape == (3, channels, resolution, resolution)
    assert fake.min() >= -1 and fake.max() <= 1
    logits = score(fake)
    assert logits.shape == (3,)
    assert torch.isfinite(logits).all()
    (logits.sum()).backward()
    for label, net in (("G", G), ("D", D)):
        unused = net.inactive_parameters() if hasattr(net, "inactive_parameters") else set()  # earlier stages
        for pname, p in net.named_parameters():
            if pname in unused:
                assert p.grad is None, f"{label}.{pname} is reported unused but got a gradient"
                continue
            assert p.grad is not None, f"{label}.{pname} got no gradient"
            assert torch.isfinite(p.grad).all(), f"{label}.{pname} has a non-finite gradient"


SPEC_CASES = [(spec, {}) for spec in model_specs()] + [(model_spec(name), arch) for name in ARCH_MODELS
                                                       for arch in ARCHES]


@pytest.mark.parametrize("spec,arch", SPEC_CASES, ids=lambda v: v.name if hasattr(v, "name") else _case_id(v))
def test_every_model_builds_from_its_spec_and_takes_its_example_inputs(spec, arch):
    """The registry's contract: a spec's tiny example model (with each backbone it builds) takes the inputs the
    spec declares, gives outputs in [-1, 1], and the spec names a registered recipe and only sections and options
    the config knows."""
    from dataclasses import fields

    from ganforge.config import SECTIONS, TrainConfig
    from ganforge.recipes import RECIPES, recipe_for  # noqa: F401  (recipe_for registers the recipes)

    torch.manual_seed(0)
    G, D = create_model(spec.name, **spec.example_args, **arch)
    fake = G(*spec.example_inputs(batch=3))
    assert fake.shape[0] == 3 and torch.isfinite(fake).all() and fake.min() >= -1 and fake.max() <= 1
    recipe_for(TrainConfig())  # registers every recipe
    assert spec.recipe in RECIPES
    assert set(spec.sections) <= set(SECTIONS)
    known = {f.name for f in fields(TrainConfig)}
    assert {entry.partition("=")[0] for entry in spec.refuses} <= known
    assert set(spec.defaults) <= known and set(spec.own_settings) <= known
    assert spec.pickable or spec.instead  # a hidden variant says which flags choose it


def test_dcgan_init_follows_the_paper():
    G, D = create_model("dcgan", resolution=32, channels=3, g_width=32, d_width=32)
    conv = G.net[0].weight
    assert abs(conv.mean().item()) < 0.002 and abs(conv.std().item() - 0.02) < 0.002


def test_nearest_upsampling_variant_keeps_the_shape():
    G, _ = create_model("dcgan", resolution=32, channels=1, latent_dim=8, g_width=4, upsample="nearest")
    assert G(torch.randn(2, 8)).shape == (2, 1, 32, 32)


def test_subpixel_upsampling_starts_as_nearest_and_learns_every_phase():
    """ICNR init: each 2x2 block of the output starts as one value (no checkerboard), and training can
    split the 4 phases (every weight gets a gradient)."""
    G, _ = create_model("dcgan", resolution=32, channels=3, latent_dim=8, g_width=4, upsample="subpixel")
    images = G(torch.randn(2, 8))
    assert images.shape == (2, 3, 32, 32)
    blocks = images.unflatten(2, (16, 2)).unflatten(4, (16, 2))  # (B, C, 16, 2, 16, 2)
    torch.testing.assert_close(blocks, blocks[:, :, :, :1, :, :1].expand_as(blocks))
    assert images.std() > 0
    images.square().sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in G.parameters())


@pytest.mark.parametrize("resolution", [128, 256])
def test_high_resolutions_build(resolution):
    G, D = create_model("dcgan", resolution=resolution, channels=3, latent_dim=4, g_width=2, d_width=2)
    x = G(torch.randn(1, 4))
    assert x.shape[-1] == resolution and D(x).shape == (1,)


@pytest.mark.parametrize("name", POINT_MODELS)
def test_point_model_contract(name):
    torch.manual_seed(0)
    G, D = create_model(name, latent_dim=3, g_width=8, d_width=8)
    fake = G(torch.randn(5, 3))
    logits = D(fake)
    assert fake.shape == (5, 2) and logits.shape == (5,) and torch.isfinite(logits).all()
    logits.sum().backward()
    for label, net in (("G", G), ("D", D)):
        for pname, p in net.named_parameters():
            assert p.grad is not None and torch.isfinite(p.grad).all(), f"{label}.{pname}"
