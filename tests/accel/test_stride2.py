"""4x4 stride-2 convs with the CPU fast paths (accel/stride2.py: the weight gradient as one matrix product,
few-output transposed convs as a 3x3 conv + pixel shuffle): the same function and gradients as torch's convs."""

import copy

import pytest
import torch

import ganforge.accel.stride2 as stride2
from ganforge.accel import AccelPolicy
from ganforge.accel.nearest import NearestConv
from ganforge.accel.stride2 import Stride2Conv2d, Stride2ConvTranspose2d, patches, subpixel_kernel

# The matrix-product weight gradient runs in bf16 only by default (where it is faster); these float64 equality tests
# switch it on for float64 too, to check its sums exactly (and Winograd off: tests/test_winograd.py has its own)
FLOAT64 = AccelPolicy(matmul_grad_dtypes=(torch.bfloat16, torch.float64))


def _pair(transposed: bool, bias: bool, c_in: int = 5, c_out: int = 3, matmul_grad: bool = True,
          policy: AccelPolicy = FLOAT64):
    """(fast, plain): a torch conv and its accelerated copy with the same weights."""
    torch.manual_seed(0)
    plain = (torch.nn.ConvTranspose2d if transposed else torch.nn.Conv2d)(c_in, c_out, 4, 2, 1, bias=bias)
    form = Stride2ConvTranspose2d if transposed else Stride2Conv2d
    return form.convert(copy.deepcopy(plain), policy, matmul_grad=matmul_grad), plain


def test_patches_are_the_windows_under_each_output_pixel():
    x = torch.randn(2, 3, 6, 8)
    rows = patches(x)  # (2 * 3 * 4, 16 * 3): row (b, i, j) holds the padded window at (2i, 2j), (kh, kw, c) order
    padded = torch.nn.functional.pad(x, (1, 1, 1, 1))
    window = padded[1, :, 2 * 2:2 * 2 + 4, 2 * 3:2 * 3 + 4]  # b = 1, i = 2, j = 3
    torch.testing.assert_close(rows[1 * 12 + 2 * 4 + 3], window.permute(1, 2, 0).flatten())


SHAPES = [(5, 6), (5, 3), (3, 6)]  # (c_in, c_out): plain, a few-output transposed conv / a conv whose input
# gradient is one (the sub-pixel form)


@pytest.mark.parametrize("transposed", [False, True])
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
@pytest.mark.parametrize("channels", SHAPES)
@pytest.mark.parametrize("matmul_grad", [False, True])
def test_same_outputs_and_gradients_as_torch_convs(transposed, bias, memory_format, channels, matmul_grad):
    """float64, a non-square map: outputs and input / weight / bias gradients equal torch's, in the input's
    memory format."""
    fast, plain = _pair(transposed, bias, *channels, matmul_grad=matmul_grad)
    fast, plain = fast.double().to(memory_format=memory_format), plain.double()
    shape = (3, channels[0], 4, 6) if transposed else (3, channels[0], 8, 12)
    x = torch.randn(*shape, dtype=torch.float64).to(memory_format=memory_format).requires_grad_()
    out = fast(x)
    assert out.is_contiguous(memory_format=memory_format)
    torch.testing.assert_close(out, plain(x))
    params = lambda m: (x, *m.parameters())  # noqa: E731
    grads = torch.autograd.grad(out.square().sum(), params(fast))
    torch.testing.assert_close(grads, torch.autograd.grad(plain(x).square().sum(), params(plain)))
    assert grads[0].is_contiguous(memory_format=memory_format)
    assert grads[1].is_contiguous(memory_format=memory_format)


@pytest.mark.parametrize("transposed", [False, True])
@pytest.mark.parametrize("channels", SHAPES)
def test_frozen_weights_pass_the_input_gradient_only(transposed, channels):
    """The G step: D's weights frozen, the gradient flows to the input (the fakes) alone and equals torch's."""
    fast, plain = _pair(transposed, True, *channels)
    fast.requires_grad_(False)
    x = torch.randn(2, channels[0], *((4, 4) if transposed else (8, 8)), dtype=torch.float64).requires_grad_()
    fast, plain = fast.double(), plain.double()
    (grad,) = torch.autograd.grad(fast(x).square().sum(), x)
    torch.testing.assert_close(grad, torch.autograd.grad(plain(x).square().sum(), x)[0])
    assert all(p.grad is None for p in fast.parameters())


@pytest.mark.parametrize("c_out", [1, 3, 4])
def test_subpixel_kernel_makes_the_transposed_conv(c_out):
    """The 3x3 conv to 4 * c_out channels, pixel-shuffled, is the stride-2 transposed conv (float64)."""
    x, weight = torch.randn(2, 5, 3, 7, dtype=torch.float64), torch.randn(5, c_out, 4, 4, dtype=torch.float64)
    shuffled = torch.nn.functional.pixel_shuffle(torch.nn.functional.conv2d(x, subpixel_kernel(weight), None, 1, 1), 2)
    torch.testing.assert_close(shuffled, torch.nn.functional.conv_transpose2d(x, weight, None, 2, 1))


@pytest.mark.parametrize("transposed", [False, True])
@pytest.mark.parametrize("channels", SHAPES)
def test_under_bf16_autocast_the_fp32_weights_get_the_plain_convs_gradients(transposed, channels):
    """The path training takes: bf16 autocast, fp32 master weights, channels_last; the gradients reach the fp32
    parameters and match torch's own autocast conv to bf16 rounding."""
    fast, plain = _pair(transposed, True, *channels)
    fast, plain = fast.to(memory_format=torch.channels_last), plain.to(memory_format=torch.channels_last)
    x = torch.randn(4, channels[0], *((8, 8) if transposed else (16, 16))).to(memory_format=torch.channels_last)
    grads = []
    for module in (fast, plain):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = module(x)
        assert out.dtype == torch.bfloat16
        grads.append(torch.autograd.grad(out.float().square().sum(), list(module.parameters())))
    for got, want in zip(*grads):
        assert got.dtype == torch.float32
        torch.testing.assert_close(got, want, rtol=2e-2, atol=2e-2 * want.abs().max().item())


@pytest.mark.parametrize("transposed", [False, True])
@pytest.mark.parametrize("channels", SHAPES)
def test_without_autograd_no_custom_function_runs_and_traces_see_the_plain_op(monkeypatch, transposed, channels):
    """Eval and no_grad never build the custom function's graph (a few-output transposed conv still takes the
    faster form); a trace (ONNX / TorchScript export) records the plain conv."""
    fast, plain = _pair(transposed, True, *channels)
    x = torch.randn(2, channels[0], 8, 8)
    monkeypatch.setattr(stride2._Stride2Conv4x4, "apply", None)  # calling it would fail
    with torch.no_grad():
        torch.testing.assert_close(fast(x), plain(x))
    fast.requires_grad_(False)
    torch.testing.assert_close(fast(x), plain(x))
    traced = str(torch.jit.trace(fast, x).graph)
    assert "aten::_convolution" in traced and "pixel_shuffle" not in traced


@pytest.mark.parametrize(("c_out", "matmul_grad"), [(6, True), (3, True), (1, False)])
def test_nearest_conv_equals_upscaling_then_conv(c_out, matmul_grad):
    """NearestConv's folded transposed conv (G's first upscaling with the matmul weight gradient; G's last with
    1 or 3 output channels in the sub-pixel form): the outputs and the input / 3x3-weight gradients of nn.Upsample
    + nn.Conv2d, float64, channels_last."""
    torch.manual_seed(0)
    plain = torch.nn.Conv2d(5, c_out, 3, 1, 1, bias=False).double()
    fast = NearestConv.convert(copy.deepcopy(plain), FLOAT64, matmul_grad=matmul_grad)
    fast = fast.to(memory_format=torch.channels_last)
    x = torch.randn(2, 5, 4, 6, dtype=torch.float64).to(memory_format=torch.channels_last).requires_grad_()
    out = fast(x)
    reference = plain(torch.nn.functional.interpolate(x, scale_factor=2, mode="nearest"))
    torch.testing.assert_close(out, reference)
    torch.testing.assert_close(torch.autograd.grad(out.square().sum(), (x, fast.weight)),
                               torch.autograd.grad(reference.square().sum(), (x, plain.weight)))


@pytest.mark.parametrize(("autocast", "size", "matmul_grad", "used"), [
    (False, 8, True, False),  # fp32 keeps oneDNN's weight gradient (the fp32 matrix product was slower)
    (True, 8, True, True),  # bf16 autocast takes the product
    (True, 32, True, False),  # a map larger than 16 px: oneDNN's kernel was as fast
    (True, 16, False, False),  # an image layer (accelerate sets matmul_grad=False on a network's first and last)
])
def test_where_the_default_policy_takes_the_matmul_gradient(monkeypatch, autocast, size, matmul_grad, used):
    calls = []
    monkeypatch.setattr(stride2, "weight_grad", lambda big, small: calls.append(1) or torch.zeros(
        small.shape[1], big.shape[1], 4, 4, dtype=big.dtype))  # a spy: counts the calls
    fast, _ = _pair(transposed=False, bias=False, c_in=6, c_out=5, matmul_grad=matmul_grad, policy=AccelPolicy())
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        out = fast(torch.randn(2, 6, size, size))
    out.float().sum().backward()
    assert bool(calls) == used
