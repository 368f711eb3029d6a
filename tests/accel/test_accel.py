"""accelerate(model, policy) (ganforge.accel): every faster form against its plain layer, and whole networks keep
their state-dict keys and function."""

from __future__ import annotations

import copy
import dataclasses

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ganforge.accel import AccelPolicy, accelerate
from ganforge.accel.linear_ends import LatentStem, WholeInputConv
from ganforge.accel.nearest import NearestConv, NearestEqualConv2d
from ganforge.models import create_model, model_names
from ganforge.models.layers import apply_spectral_norm
from ganforge.models.scaled import EqualConv2d

FORMATS = [torch.contiguous_format, torch.channels_last]
# every stride-2 form in float64, so the sums can be compared exactly: the matmul gradient (bf16-only by default)...
MATMUL_64 = AccelPolicy(matmul_grad_dtypes=(torch.float64,))
# ... and Winograd, for any width (the default wants >= 128 channels)
WINOGRAD_64 = AccelPolicy(winograd_dtypes=(torch.float64,), winograd_min_channels=1)


def _module_types(net: nn.Module) -> list[tuple[str, type]]:
    return [(name, type(module)) for name, module in net.named_modules()]


@pytest.mark.parametrize("name", model_names())
def test_the_plain_policy_swaps_nothing(name):
    translator = dict(resolution=32, g_width=4, d_width=4, patch_size=16)
    args = {"pix2pix": translator, "cyclegan": translator,
            "mlp": dict(g_width=8, d_width=8)}.get(name, dict(resolution=32, latent_dim=8, g_width=4, d_width=4))
    for net in create_model(name, **args):
        before = _module_types(net)
        assert accelerate(net, AccelPolicy.plain()) is net
        assert _module_types(net) == before


def test_policies_are_values():
    policy = AccelPolicy()
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.fold_nearest = False
    assert AccelPolicy() == policy and hash(AccelPolicy()) == hash(policy)
    assert not AccelPolicy.plain().stride2_forms and policy.stride2_forms
    assert AccelPolicy.for_device("cpu") == policy
    cuda = AccelPolicy.for_device("cuda")  # the folds are torch ops there too; the stride-2 forms are CPU kernels
    assert cuda.fold_nearest and cuda.linear_ends and not cuda.stride2_forms
    with pytest.raises(TypeError, match="tuple of torch dtypes"):
        AccelPolicy(winograd_dtypes=[torch.bfloat16])
    with pytest.raises(ValueError, match="winograd_max_px"):
        AccelPolicy(winograd_max_px=-1)


# --- whole networks: accelerated against plain, float64 ----------------------------------------------------------
def _inputs(name: str, args: dict) -> tuple:
    torch.manual_seed(1)  # also the U-Net's dropout masks that follow
    if name == "pix2pix":
        return (torch.rand(4, args["in_channels"], args["resolution"], args["resolution"], dtype=torch.float64),)
    z = torch.randn(4, args["latent_dim"], dtype=torch.float64)
    return (z, torch.tensor([0, 1, 2, 0])) if name.startswith("conditional") else (z,)


def _outputs_and_gradients(name: str, args: dict, G: nn.Module, D: nn.Module, memory_format) -> tuple:
    """G's images, D's logits on them and every parameter's gradient through the G -> D chain."""
    if name == "progressive":  # the last stage, mid-fade: every block in use
        G.set_stage(G.last_stage, 0.5)
        D.set_stage(D.last_stage, 0.5)
    inputs = _inputs(name, args)
    images = G(*inputs).contiguous(memory_format=memory_format)
    logits = D(torch.cat([inputs[0], images], 1)) if name == "pix2pix" else D(images, *inputs[1:])
    params = [*G.parameters(), *D.parameters()]  # (InfoGAN's code head and faded-out stages get zeros)
    return images, logits, torch.autograd.grad(logits.square().sum(), params, allow_unused=True, materialize_grads=True)


def _plain_and_accelerated(name: str, args: dict, policy: AccelPolicy, memory_format, spectral_norm: bool = False):
    pair = []
    for accelerated in (False, True):
        torch.manual_seed(0)
        G, D = create_model(name, **args)
        if accelerated:
            G, D = accelerate(G, policy), accelerate(D, policy)
        if spectral_norm:
            apply_spectral_norm(D)
        pair.append(tuple(net.double().to(memory_format=memory_format) for net in (G, D)))
    return pair


TINY = dict(latent_dim=8, g_width=4, d_width=4)
NETWORKS = [
    ("dcgan", dict(resolution=32, channels=3, **TINY)),
    ("dcgan", dict(resolution=32, channels=1, upsample="nearest", **TINY)),
    ("dcgan", dict(resolution=16, channels=3, upsample="nearest", aspect="2:1", d_batchnorm=False, minibatch_std=True,
                   latent_classes=3, **TINY)),
    ("conditional-dcgan", dict(resolution=16, channels=1, num_classes=3, **TINY)),
    # the backbones (--d-arch, --g-arch): the residual G's nearest folds; their other layers are left as they are
    ("dcgan", dict(resolution=32, channels=3, d_arch="resnet", g_arch="resnet", **TINY)),
    ("dcgan", dict(resolution=16, channels=3, d_arch="inception", g_arch="resnet", aspect="2:1", d_batchnorm=False,
                   minibatch_std=True, latent_classes=3, **TINY)),
    ("dcgan", dict(resolution=32, channels=1, d_arch="pool", upsample="nearest", **TINY)),
    ("dcgan", dict(resolution=32, channels=1, d_arch="vgg", **TINY)),
    ("conditional-dcgan", dict(resolution=16, channels=1, num_classes=3, d_arch="resnet", g_arch="resnet", **TINY)),
    ("fastgan", dict(resolution=64, channels=3, **TINY)),
    ("msg", dict(resolution=32, channels=3, **TINY)),
    ("progressive", dict(resolution=32, channels=3, **TINY)),
    ("pix2pix", dict(resolution=32, in_channels=1, out_channels=3, g_width=4, d_width=4, patch_size=16)),
]


@pytest.mark.parametrize(("name", "args"), NETWORKS, ids=lambda v: v if isinstance(v, str) else "")
@pytest.mark.parametrize("policy", [MATMUL_64, WINOGRAD_64], ids=["matmul-grad", "winograd"])
@pytest.mark.parametrize("memory_format", FORMATS)
def test_accelerated_networks_compute_the_plain_ones(name, args, policy, memory_format):
    """Training mode, float64 (the forms switched on for it): the images, D's logits and every parameter's gradient
    through the G -> D chain equal the plain networks' with the same weights; keys are unchanged."""
    (G, D), (fast_G, fast_D) = _plain_and_accelerated(name, args, policy, memory_format)
    forms = [m for net in (fast_G, fast_D) for m in net.modules() if type(m).__module__.startswith("ganforge.accel")]
    assert forms, "nothing was accelerated"
    assert list(fast_G.state_dict()) == list(G.state_dict()) and list(fast_D.state_dict()) == list(D.state_dict())
    torch.testing.assert_close(_outputs_and_gradients(name, args, fast_G, fast_D, memory_format),
                               _outputs_and_gradients(name, args, G, D, memory_format))


def test_dcgan_takes_the_forms_the_policy_names():
    """DCGAN-32 under the default policy: the latent stem and heads as linear layers, every strided layer in
    stride2's form, the nearest fold in every block, and the matmul gradient allowed on all but the image layers
    (where the map rule picks G's 4 -> 8 and 8 -> 16 px blocks and D's 16 -> 8 and 8 -> 4 px convs)."""
    for upsample, up_form in (("transpose", "Stride2ConvTranspose2d"), ("nearest", "NearestConv")):
        G, D = (accelerate(net, AccelPolicy()) for net in create_model("dcgan", resolution=32, upsample=upsample))
        ups = [m for m in G.modules() if type(m).__name__ == up_form]
        downs = [m for m in D.modules() if type(m).__name__ == "Stride2Conv2d"]
        assert type(G.net[0]) is LatentStem and type(D.head) is WholeInputConv
        assert len(ups) == 3 and [m.matmul_grad for m in ups] == [True, True, False]
        assert len(downs) == 3 and [m.matmul_grad for m in downs] == [False, True, True]
        assert not any(isinstance(m, nn.Upsample) for m in G.modules())


def test_spectral_norm_wraps_the_accelerated_layers_and_ema_copies_them():
    """The Trainer's order: accelerate, then spectral norm (its parametrization wraps the faster forms); the
    function and the keys stay the plain model's, and a deep copy (the EMA G) keeps its forms."""
    args = dict(resolution=32, channels=3, upsample="nearest", d_batchnorm=False, **TINY)
    (G, D), (fast_G, fast_D) = _plain_and_accelerated("dcgan", args, MATMUL_64, torch.channels_last, True)
    assert list(fast_D.state_dict()) == list(D.state_dict())
    assert any(isinstance(m, WholeInputConv) for m in fast_D.modules())
    fast_D.load_state_dict(D.state_dict())  # the same power-iteration vectors
    torch.testing.assert_close(_outputs_and_gradients("dcgan", args, fast_G, fast_D, torch.channels_last),
                               _outputs_and_gradients("dcgan", args, G, D, torch.channels_last))
    ema = copy.deepcopy(fast_G)
    assert [type(m) for m in ema.modules()] == [type(m) for m in fast_G.modules()]
    assert ema.net[4].policy == MATMUL_64  # the first block's NearestConv


def test_accelerate_keeps_parameters_and_draws_no_random_numbers():
    """Layers are re-classed in place: the same parameter tensors (an optimiser built before stays valid), and the
    random stream after building is what the plain build leaves (a seeded run draws the same data and noise)."""
    torch.manual_seed(0)
    G, _ = create_model("dcgan", resolution=32, upsample="nearest", **TINY)
    params = list(G.parameters())
    state = torch.get_rng_state()
    accelerate(G, AccelPolicy())
    assert torch.equal(torch.get_rng_state(), state)
    assert all(a is b for a, b in zip(params, G.parameters(), strict=True))


def test_layers_already_accelerated_or_parametrized_are_left_alone():
    conv = apply_spectral_norm(nn.Sequential(nn.Conv2d(3, 4, 4, 2, 1)))[0]
    accelerate(conv, AccelPolicy())
    assert type(conv).__name__ == "ParametrizedConv2d"
    G, _ = create_model("dcgan", resolution=32, upsample="nearest", **TINY)
    types = _module_types(accelerate(G, AccelPolicy()))
    assert _module_types(accelerate(G, MATMUL_64)) == types
    with pytest.raises(TypeError, match="does not compute"):
        WholeInputConv.convert(nn.Conv2d(3, 4, 3, 1, 1), AccelPolicy())  # padding: not a whole-input conv


def test_the_trainer_accelerates_on_cpu(tiny_config, tmp_path):
    from ganforge.training.loop import Trainer

    config = dataclasses.replace(tiny_config, upsample="nearest", spectral_norm=True, d_batchnorm=False, ema_beta=0.9)
    trainer = Trainer(config, tmp_path / "run", quiet=True)
    assert type(trainer.G.net[0]) is LatentStem
    assert any(isinstance(m, NearestConv) for m in trainer.G.modules())
    assert any(isinstance(m, NearestConv) for m in trainer.G_ema.modules())
    assert any(isinstance(m, WholeInputConv) for m in trainer.D.modules())  # under spectral norm


# --- each form against its plain layer -----------------------------------------------------------------------------
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("memory_format", FORMATS)
@pytest.mark.parametrize("c_out", [3, 6])
def test_nearest_conv_equals_upscaling_then_conv(bias, memory_format, c_out):
    """NearestConv computes a 3x3 conv of the 2x nearest-upscaled input as a transposed conv of the small input with a
    folded kernel: the outputs and the input / weight / bias gradients of nn.Upsample + nn.Conv2d with the same
    weights (a non-square map, borders too), in the input's memory format; 3 outputs take the sub-pixel form, and
    the matmul weight gradient is on."""
    torch.manual_seed(0)
    plain = nn.Conv2d(5, c_out, 3, 1, 1, bias=bias).double()
    fast = NearestConv.convert(copy.deepcopy(plain), MATMUL_64).to(memory_format=memory_format)
    x = torch.randn(2, 5, 4, 6, dtype=torch.float64).to(memory_format=memory_format).requires_grad_()
    out = fast(x)
    assert out.is_contiguous(memory_format=memory_format)
    reference = plain(F.interpolate(x, scale_factor=2, mode="nearest"))
    torch.testing.assert_close(out, reference)
    params = lambda m: (x, *m.parameters())  # noqa: E731
    torch.testing.assert_close(torch.autograd.grad(out.square().sum(), params(fast)),
                               torch.autograd.grad(reference.square().sum(), params(plain)))


@pytest.mark.parametrize("memory_format", FORMATS)
def test_nearest_equal_conv_equals_upscaling_then_equal_conv(memory_format):
    """MSG-GAN's and progressive growing's upscaling conv (equalised learning rate, with bias), folded: the outputs
    and gradients of nn.Upsample + EqualConv2d with the same state dict."""
    torch.manual_seed(0)
    plain = EqualConv2d(5, 3, 3, padding=1).double()
    with torch.no_grad():
        plain.bias.normal_()
    fast = NearestEqualConv2d.convert(copy.deepcopy(plain), MATMUL_64)
    x = torch.randn(2, 5, 4, 6, dtype=torch.float64).to(memory_format=memory_format).requires_grad_()
    out, reference = fast(x), plain(F.interpolate(x, scale_factor=2, mode="nearest"))
    torch.testing.assert_close(out, reference)
    params = lambda m: (x, m.weight, m.bias)  # noqa: E731
    torch.testing.assert_close(torch.autograd.grad(out.square().sum(), params(fast)),
                               torch.autograd.grad(reference.square().sum(), params(plain)))


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("memory_format", FORMATS)
@pytest.mark.parametrize("grid", [(4, 4), (4, 8)])
def test_whole_input_conv_equals_conv(bias, memory_format, grid):
    """D's heads (a kernel the size of the map) run as a linear layer: the same outputs and input / weight / bias
    gradients as nn.Conv2d with the same state dict, square and wide maps, under spectral norm too; other input
    sizes fall back to the conv."""
    torch.manual_seed(0)
    plain = nn.Conv2d(5, 3, grid, 1, 0, bias=bias).double()
    fast = WholeInputConv.convert(copy.deepcopy(plain), AccelPolicy()).to(memory_format=memory_format)
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
@pytest.mark.parametrize("memory_format", FORMATS)
@pytest.mark.parametrize("grid", [(4, 4), (4, 8)])
def test_latent_stem_equals_transposed_conv(bias, memory_format, grid):
    """G's first layer (1x1 latent -> small map) runs as a linear layer: the same outputs, in the weight's memory
    format, and the same gradients as nn.ConvTranspose2d with the same state dict."""
    torch.manual_seed(0)
    plain = nn.ConvTranspose2d(6, 3, grid, 1, 0, bias=bias).double()
    fast = LatentStem.convert(copy.deepcopy(plain), AccelPolicy()).to(memory_format=memory_format)
    z = torch.randn(2, 6, 1, 1, dtype=torch.float64, requires_grad=True)
    out = fast(z)
    assert out.shape == (2, 3, *grid) and out.is_contiguous(memory_format=memory_format)
    torch.testing.assert_close(out, plain(z))
    params = lambda m: (z, *m.parameters())  # noqa: E731
    torch.testing.assert_close(torch.autograd.grad(out.square().sum(), params(fast)),
                               torch.autograd.grad(plain(z).square().sum(), params(plain)))
