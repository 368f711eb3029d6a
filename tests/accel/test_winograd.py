"""Stride-2 4x4 convs by Winograd's F(2x2, 2x2) (accel/winograd.py): the conv's sums and gradients, and where
the default policy uses them."""

import copy

import pytest
import torch
import torch.nn.functional as F

from ganforge.accel import AccelPolicy, winograd
from ganforge.accel.stride2 import Stride2Conv2d, Stride2ConvTranspose2d
from ganforge.accel.winograd import winograd_stride2


def _operands(transposed: bool, memory_format: torch.memory_format, dtype=torch.float64, c_in=5, c_out=6,
              size=(8, 12)):
    torch.manual_seed(0)
    height, width = (size[0] // 2, size[1] // 2) if transposed else size  # the transposed conv's input is small
    x = torch.randn(3, c_in, height, width, dtype=dtype).contiguous(memory_format=memory_format)
    weight = torch.randn(*((c_in, c_out) if transposed else (c_out, c_in)), 4, 4, dtype=dtype)
    return x, weight.contiguous(memory_format=memory_format)


@pytest.mark.parametrize("transposed", [False, True])
@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
@pytest.mark.parametrize("size", [(8, 12), (4, 4), (12, 8)])
def test_same_outputs_and_gradients_as_torch(transposed, memory_format, size):
    """float64, square and non-square maps: the output and both gradients equal torch's, in the input's and the
    weight's memory format."""
    x, weight = _operands(transposed, memory_format, size=size)
    op = F.conv_transpose2d if transposed else F.conv2d
    inputs = (x.clone().requires_grad_(), weight.clone().requires_grad_())
    out = winograd_stride2(*inputs, transposed)
    expected = op(x, weight, None, 2, 1)
    torch.testing.assert_close(out, expected)
    assert out.is_contiguous(memory_format=memory_format)
    upstream = torch.randn_like(expected)
    grads = torch.autograd.grad(out, inputs, upstream)
    plain = (x.clone().requires_grad_(), weight.clone().requires_grad_())
    torch.testing.assert_close(grads, torch.autograd.grad(op(*plain, None, 2, 1), plain, upstream))
    assert all(g.is_contiguous(memory_format=memory_format) for g in grads)


@pytest.mark.parametrize("transposed", [False, True])
def test_only_the_gradients_asked_for_are_computed(transposed):
    x, weight = _operands(transposed, torch.channels_last)
    out = winograd_stride2(x.requires_grad_(), weight, transposed)  # a frozen weight (D in G's step)
    (grad_x,) = torch.autograd.grad(out.sum(), x)
    op = F.conv_transpose2d if transposed else F.conv2d
    torch.testing.assert_close(grad_x, torch.autograd.grad(op(x, weight, None, 2, 1).sum(), x)[0])


@pytest.mark.parametrize("transposed", [False, True])
def test_bf16_error_stays_within_a_bf16_rounding(transposed):
    """bf16: the transformed kernel and tiles are rounded too, so the error is a few times that of torch's own bf16
    conv (measured 2.3-2.8x), still of the order of bf16's rounding (2^-8 relative), against the float64 result
    (a wrong tap or tile would be off by order 1)."""
    x, weight = _operands(transposed, torch.channels_last, dtype=torch.float64, c_in=64, c_out=64, size=(16, 16))
    op = F.conv_transpose2d if transposed else F.conv2d
    exact = op(x, weight, None, 2, 1)
    xb, wb = x.bfloat16(), weight.bfloat16()
    error = lambda y: ((y.double() - exact).norm() / exact.norm()).item()  # noqa: E731
    ours, torchs = error(winograd_stride2(xb, wb, transposed)), error(op(xb, wb, None, 2, 1))
    assert ours < 0.01
    assert ours < 4 * torchs


def _count_winograd_calls(monkeypatch) -> list[int]:
    calls = []
    real = winograd.winograd_stride2

    def counting(*args):
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(winograd, "winograd_stride2", counting)
    return calls


@pytest.mark.parametrize("transposed", [False, True])
def test_dcgan_layers_use_it_under_bf16_autocast_with_fp32_master_weights(monkeypatch, transposed):
    """A 16 px map, 128 channels, bf16 autocast: Winograd runs, and the fp32 weight gets the plain conv's gradient
    (within bf16 rounding)."""
    calls = _count_winograd_calls(monkeypatch)
    torch.manual_seed(0)
    plain = (torch.nn.ConvTranspose2d if transposed else torch.nn.Conv2d)(128, 128, 4, 2, 1, bias=False)
    layer = (Stride2ConvTranspose2d if transposed else Stride2Conv2d).convert(copy.deepcopy(plain), AccelPolicy())
    x = torch.randn(2, 128, *((8, 8) if transposed else (16, 16))).contiguous(memory_format=torch.channels_last)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = layer(x)
    assert calls and out.dtype == torch.bfloat16
    out.float().square().sum().backward()
    plain(x).square().sum().backward()
    assert layer.weight.grad.dtype == torch.float32
    scale = plain.weight.grad.abs().max().item()
    torch.testing.assert_close(layer.weight.grad, plain.weight.grad, rtol=0.03, atol=0.03 * scale)


@pytest.mark.parametrize(("dtype", "autocast", "size", "channels", "used"), [
    (torch.float32, True, 16, 128, True),
    (torch.float32, False, 16, 128, False),  # fp32: oneDNN's conv (Winograd's matmuls were only 1.1x there)
    (torch.float32, True, 32, 128, False),  # a 32 px map: the transforms' traffic ate the gain
    (torch.float32, True, 16, 96, False),  # a narrow model (the digits recipe's widths)
    (torch.float32, True, 18, 128, False),  # an output of odd size: no whole tiles
])
def test_where_the_default_policy_runs_it(monkeypatch, dtype, autocast, size, channels, used):
    calls = _count_winograd_calls(monkeypatch)
    layer = Stride2Conv2d.convert(torch.nn.Conv2d(channels, channels, 4, 2, 1, bias=False), AccelPolicy())
    x = torch.randn(2, channels, size, size, dtype=dtype)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        layer(x)
    assert bool(calls) == used
    assert AccelPolicy().winograd_max_px == 16


def test_quality_benchmark_compares_rounding_only_and_its_switch_works():
    """benchmarks/winograd_quality.py's gradients: repeated calls see the same weights (spectral norm's vectors
    restored), and the policy without Winograd changes bf16 gradients while fp32 ones (which never use it) stay
    identical."""
    import dataclasses

    from ganforge.accel import AccelPolicy, accelerate
    from ganforge.models import create_model
    from ganforge.models.layers import apply_spectral_norm
    from ganforge.training.gradients import gradients

    def relative(a, b):
        return float((a - b).norm() / b.norm())

    nets = {}
    for use_winograd in (True, False):  # the same weights and spectral-norm vectors, each policy's forms
        policy = AccelPolicy() if use_winograd else dataclasses.replace(AccelPolicy(), winograd_dtypes=())
        torch.manual_seed(0)
        G, D = create_model("dcgan", resolution=64, latent_dim=16, d_batchnorm=False, upsample="nearest")  # recommended
        G, D = accelerate(G, policy), accelerate(D, policy)
        apply_spectral_norm(D)
        nets[use_winograd] = G.to(memory_format=torch.channels_last), D.to(memory_format=torch.channels_last)
    real, z = torch.rand(2, 3, 64, 64) * 2 - 1, torch.randn(2, 16, 1, 1)
    first, again = (gradients(*nets[True], real, z, bf16=True) for _ in range(2))
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    without = gradients(*nets[False], real, z, bf16=True)
    fp32_without = gradients(*nets[False], real, z, bf16=False)
    assert not torch.equal(first[0], without[0]) and not torch.equal(first[1], without[1])
    fp32 = gradients(*nets[True], real, z, bf16=False)
    assert all(torch.equal(a, b) for a, b in zip(fp32, fp32_without, strict=True))
    assert relative(first[0], fp32[0]) < 0.2 and relative(without[0], fp32[0]) < 0.2
