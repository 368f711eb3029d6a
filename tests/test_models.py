"""Contract tests over every registered model: shapes, output range, gradients, no NaN."""

import pytest
import torch

from ganforge.models import create_model, model_spec, model_specs

IMAGE_MODELS = [s.name for s in model_specs() if not s.points]
POINT_MODELS = [s.name for s in model_specs() if s.points]


def _build(name, resolution, channels):
    """G, D, a batch of 3 fakes, and D's per-sample score, whatever the model's inputs are."""
    z = torch.randn(3, 8)
    if model_spec(name).inputs == "image":  # image -> image; D judges cat(input, output), one logit per patch
        G, D = create_model(name, resolution=resolution, in_channels=channels, out_channels=channels, g_width=4,
                            d_width=4, patch_size=16)
        source = torch.rand(3, channels, resolution, resolution) * 2 - 1
        return G, D, G(source), lambda fake: D(torch.cat([source, fake], 1)).flatten(1).mean(1)
    kwargs = dict(resolution=resolution, channels=channels, latent_dim=8, g_width=4, d_width=4)
    if model_spec(name).inputs == "latent+labels":  # (z, class) -> image; D(image, class)
        labels = torch.tensor([0, 1, 2])
        G, D = create_model(name, num_classes=3, **kwargs)
        return G, D, G(z, labels), lambda fake: D(fake, labels)
    G, D = create_model(name, **kwargs)
    if name == "msg":  # D judges every scale G makes; the full-size image is the last one
        scales = G.scales(z)
        return G, D, scales[-1], lambda fake: D(scales[:-1] + [fake])
    if name == "progressive":  # the last stage, mid-fade: every block and the last two RGB layers in use
        G.set_stage(G.last_stage, 0.5)
        D.set_stage(D.last_stage, 0.5)
    return G, D, G(z), D


@pytest.mark.parametrize("name", IMAGE_MODELS)
@pytest.mark.parametrize("resolution,channels", [(16, 1), (32, 3), (64, 3)])
def test_generator_and_discriminator_contract(name, resolution, channels):
    torch.manual_seed(0)
    G, D, fake, score = _build(name, resolution, channels)
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


@pytest.mark.parametrize("spec", model_specs(), ids=lambda s: s.name)
def test_every_model_builds_from_its_spec_and_takes_its_example_inputs(spec):
    """The registry's contract: a spec's tiny example model takes the inputs the spec declares, gives outputs in
    [-1, 1], and the spec names a registered recipe and only sections and options the config knows."""
    from dataclasses import fields

    from ganforge.config import SECTIONS, TrainConfig
    from ganforge.recipes import RECIPES, recipe_for  # noqa: F401  (recipe_for registers the recipes)

    torch.manual_seed(0)
    G, D = create_model(spec.name, **spec.example_args)
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


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
def test_nearest_conv_equals_upscaling_then_conv(bias, memory_format):
    """NearestConv computes a 3x3 conv of the 2x nearest-upscaled input as a transposed conv of the small input
    with a folded kernel: the same outputs and the same gradients as nn.Upsample + nn.Conv2d with the same
    weights (a non-square map, borders too), in the input's memory format."""
    from ganforge.models.layers import NearestConv

    torch.manual_seed(0)
    folded = NearestConv(5, 3)
    if bias:
        folded.bias = torch.nn.Parameter(torch.randn(3))
    plain = torch.nn.Conv2d(5, 3, 3, 1, 1, bias=bias)
    plain.load_state_dict(folded.state_dict())
    folded, plain = folded.double(), plain.double()  # float64: the two sum in different orders
    x = torch.randn(2, 5, 4, 6, dtype=torch.float64).to(memory_format=memory_format).requires_grad_()
    out_folded = folded(x)
    assert out_folded.is_contiguous(memory_format=memory_format)
    out_plain = plain(torch.nn.functional.interpolate(x, scale_factor=2, mode="nearest"))
    torch.testing.assert_close(out_folded, out_plain)
    grads_folded = torch.autograd.grad(out_folded.square().sum(), (x, folded.weight))
    grads_plain = torch.autograd.grad(out_plain.square().sum(), (x, plain.weight))
    torch.testing.assert_close(grads_folded, grads_plain)


def test_upscaled_equal_conv_equals_upscaling_then_equal_conv():
    """MSG-GAN's and progressive growing's upscaling conv (equalised learning rate, with bias), computed as a
    transposed conv: the same outputs and gradients as nn.Upsample + EqualConv2d with the same state dict."""
    from ganforge.models.scaled import EqualConv2d, UpscaledEqualConv2d

    torch.manual_seed(0)
    folded = UpscaledEqualConv2d(5, 3).double()
    plain = EqualConv2d(5, 3, 3, padding=1).double()
    with torch.no_grad():
        folded.bias.normal_()
    plain.load_state_dict(folded.state_dict())
    x = torch.randn(2, 5, 4, 6, dtype=torch.float64, requires_grad=True)
    out_folded = folded(x)
    out_plain = plain(torch.nn.functional.interpolate(x, scale_factor=2, mode="nearest"))
    torch.testing.assert_close(out_folded, out_plain)
    params = lambda m: (x, m.weight, m.bias)  # noqa: E731
    torch.testing.assert_close(torch.autograd.grad(out_folded.square().sum(), params(folded)),
                               torch.autograd.grad(out_plain.square().sum(), params(plain)))


def test_folded_nearest_generator_loads_plain_checkpoints(monkeypatch):
    """G's upscaling blocks use NearestConv; a G built without it (FOLD_NEAREST off, as before it
    existed) has the same state-dict keys, and either loads the other's weights to the same images."""
    from ganforge.models import dcgan

    torch.manual_seed(0)
    G, _ = create_model("dcgan", resolution=64, channels=3, latent_dim=8, g_width=4, upsample="nearest")
    assert sum(isinstance(m, dcgan.NearestConv) for m in G.modules()) == 4  # every block, 4 -> 8 ... 32 -> 64 px
    monkeypatch.setattr(dcgan, "FOLD_NEAREST", False)
    plain, _ = create_model("dcgan", resolution=64, channels=3, latent_dim=8, g_width=4, upsample="nearest")
    assert not any(isinstance(m, dcgan.NearestConv) for m in plain.modules())
    assert list(plain.state_dict()) == list(G.state_dict())
    plain.load_state_dict(G.state_dict())
    z = torch.randn(3, 8)
    torch.testing.assert_close(G.eval()(z), plain.eval()(z))


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


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
@pytest.mark.parametrize("grid", [(4, 4), (4, 8)])
def test_whole_input_conv_equals_conv(bias, memory_format, grid):
    """D's heads (a kernel the size of the map) run as a linear layer: the same outputs and input / weight / bias
    gradients as nn.Conv2d with the same state dict, square and wide maps, under spectral norm too; other
    input sizes fall back to the conv."""
    from ganforge.models.layers import WholeInputConv, apply_spectral_norm

    torch.manual_seed(0)
    fast = WholeInputConv(5, 3, grid, 1, 0, bias=bias).double().to(memory_format=memory_format)
    plain = torch.nn.Conv2d(5, 3, grid, 1, 0, bias=bias).double()
    plain.load_state_dict(fast.state_dict())
    x = torch.randn(2, 5, *grid, dtype=torch.float64).to(memory_format=memory_format).requires_grad_()
    params = lambda m: (x, *m.parameters())  # noqa: E731
    out = fast(x)
    assert out.shape == (2, 3, 1, 1)
    torch.testing.assert_close(out, plain(x))
    torch.testing.assert_close(torch.autograd.grad(out.square().sum(), params(fast)),
                               torch.autograd.grad(plain(x).square().sum(), params(plain)))
    apply_spectral_norm(fast), apply_spectral_norm(plain)
    plain.load_state_dict(fast.state_dict())
    torch.testing.assert_close(fast.eval()(x), plain.eval()(x))
    bigger = torch.randn(2, 5, grid[0] + 2, grid[1] + 2, dtype=torch.float64)
    torch.testing.assert_close(fast(bigger), plain(bigger))  # a 3x3 output: the plain conv's path


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
@pytest.mark.parametrize("grid", [(4, 4), (4, 8)])
def test_latent_stem_equals_transposed_conv(bias, memory_format, grid):
    """G's first layer (1x1 latent -> small map) runs as a linear layer: the same outputs, in the model's memory
    format, and the same gradients as nn.ConvTranspose2d with the same state dict."""
    from ganforge.models.layers import LatentStem

    torch.manual_seed(0)
    fast = LatentStem(6, 3, grid, 1, 0, bias=bias).double().to(memory_format=memory_format)
    plain = torch.nn.ConvTranspose2d(6, 3, grid, 1, 0, bias=bias).double()
    plain.load_state_dict(fast.state_dict())
    z = torch.randn(2, 6, 1, 1, dtype=torch.float64, requires_grad=True)
    out = fast(z)
    assert out.shape == (2, 3, *grid) and out.is_contiguous(memory_format=memory_format)
    torch.testing.assert_close(out, plain(z))
    params = lambda m: (z, *m.parameters())  # noqa: E731
    torch.testing.assert_close(torch.autograd.grad(out.square().sum(), params(fast)),
                               torch.autograd.grad(plain(z).square().sum(), params(plain)))


@pytest.mark.parametrize("upsample", ["transpose", "nearest"])
@pytest.mark.parametrize("channels", [1, 3])
def test_fast_stride2_paths_give_the_plain_models_outputs_and_gradients(monkeypatch, upsample, channels):
    """DCGAN with the matmul weight gradients (maps of at most 16 px) and the sub-pixel form of its few-channel
    layers, against the same weights in torch's plain convs: float64, training mode, channels_last; the images,
    D's logits and every parameter's gradient through the G -> D chain are equal."""
    from ganforge.models import dcgan, stride2

    monkeypatch.setattr(stride2, "MATMUL_GRAD_DTYPES", (torch.bfloat16, torch.float64))  # bf16 only by default

    def build() -> tuple[torch.nn.Module, torch.nn.Module]:
        torch.manual_seed(0)
        G, D = create_model("dcgan", resolution=32, channels=channels, latent_dim=8, g_width=4, d_width=4,
                            upsample=upsample)
        return (G.double().to(memory_format=torch.channels_last), D.double().to(memory_format=torch.channels_last))

    fast = build()
    layers = [m for net in fast for m in net.modules() if hasattr(m, "matmul_grad")]
    assert sum(m.matmul_grad for m in layers) == 4  # G's 4 -> 8 and 8 -> 16 px blocks, D's 16 -> 8 and 8 -> 4 px
    monkeypatch.setattr(dcgan, "MATMUL_GRAD_LAYERS", 0)
    plain = build()
    z = torch.randn(4, 8, dtype=torch.float64)

    def run(G: torch.nn.Module, D: torch.nn.Module, subpixel: bool) -> tuple:
        monkeypatch.setattr(stride2, "SUBPIXEL_FEW_OUTPUTS", subpixel)
        images = G(z)
        logits = D(images)
        return images, logits, torch.autograd.grad(logits.square().sum(), [*G.parameters(), *D.parameters()])

    torch.testing.assert_close(run(*fast, subpixel=True), run(*plain, subpixel=False))


def test_torch_layers_build_has_the_same_parameters_and_function():
    """dcgan.layer_forms with STRIDE2_LAYERS / LINEAR_ENDS off (the plain reference of benchmarks/train_speed.py),
    flags restored afterwards and misspelt ones refused: only torch's own
    conv classes, the same state-dict keys, and the fast build's weights give the same images and logits."""
    from ganforge.models import dcgan

    torch.manual_seed(0)
    G, D = create_model("dcgan", resolution=32, channels=3, latent_dim=8, g_width=4, d_width=4)
    with dcgan.layer_forms(STRIDE2_LAYERS=False, LINEAR_ENDS=False):
        plain_G, plain_D = create_model("dcgan", resolution=32, channels=3, latent_dim=8, g_width=4, d_width=4)
    assert dcgan.STRIDE2_LAYERS and dcgan.LINEAR_ENDS  # restored
    with pytest.raises(ValueError, match="not a dcgan layer flag"), dcgan.layer_forms(STRIDE_LAYERS=False):
        pass
    convs = [m for net in (plain_G, plain_D) for m in net.modules() if isinstance(m, torch.nn.modules.conv._ConvNd)]
    assert len(convs) == 8 and {type(m) for m in convs} == {torch.nn.Conv2d, torch.nn.ConvTranspose2d}
    for fast, plain in ((G, plain_G), (D, plain_D)):
        assert list(plain.state_dict()) == list(fast.state_dict())
        plain.load_state_dict(fast.state_dict())
    z = torch.randn(3, 8)
    torch.testing.assert_close(plain_G(z), G(z))
    torch.testing.assert_close(plain_D(G(z)), D(G(z)))
