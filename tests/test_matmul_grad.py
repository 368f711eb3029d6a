"""The stride-2 4x4 convs whose weight gradient is one matrix product (models/matmul_grad.py): the same function
and gradients as torch's convs."""

import pytest
import torch

from ganforge.models.layers import NearestConv
from ganforge.models.matmul_grad import MatmulGradConv2d, MatmulGradConvTranspose2d, patches


def _pair(transposed: bool, bias: bool):
    torch.manual_seed(0)
    fast = (MatmulGradConvTranspose2d if transposed else MatmulGradConv2d)(5, 3, bias=bias)
    plain = (torch.nn.ConvTranspose2d if transposed else torch.nn.Conv2d)(5, 3, 4, 2, 1, bias=bias)
    plain.load_state_dict(fast.state_dict())
    return fast, plain


def test_patches_are_the_windows_under_each_output_pixel():
    x = torch.randn(2, 3, 6, 8)
    rows = patches(x)  # (2 * 3 * 4, 16 * 3): row (b, i, j) holds the padded window at (2i, 2j), (kh, kw, c) order
    padded = torch.nn.functional.pad(x, (1, 1, 1, 1))
    window = padded[1, :, 2 * 2:2 * 2 + 4, 2 * 3:2 * 3 + 4]  # b = 1, i = 2, j = 3
    torch.testing.assert_close(rows[1 * 12 + 2 * 4 + 3], window.permute(1, 2, 0).flatten())


@pytest.mark.parametrize("transposed", [False, True])
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
def test_same_outputs_and_gradients_as_torch_convs(transposed, bias, memory_format):
    """float64, a non-square map: outputs and input / weight / bias gradients equal torch's, in the input's
    memory format."""
    fast, plain = _pair(transposed, bias)
    fast, plain = fast.double().to(memory_format=memory_format), plain.double()
    shape = (3, 5, 4, 6) if transposed else (3, 5, 8, 12)
    x = torch.randn(*shape, dtype=torch.float64).to(memory_format=memory_format).requires_grad_()
    out = fast(x)
    assert out.is_contiguous(memory_format=memory_format)
    torch.testing.assert_close(out, plain(x))
    params = lambda m: (x, *m.parameters())  # noqa: E731
    grads = torch.autograd.grad(out.square().sum(), params(fast))
    torch.testing.assert_close(grads, torch.autograd.grad(plain(x).square().sum(), params(plain)))
    assert grads[1].is_contiguous(memory_format=memory_format)


@pytest.mark.parametrize("transposed", [False, True])
def test_under_bf16_autocast_the_fp32_weights_get_the_plain_convs_gradients(transposed):
    """The path training takes: bf16 autocast, fp32 master weights, channels_last; the gradients reach the fp32
    parameters and match torch's own autocast conv to bf16 rounding."""
    fast, plain = _pair(transposed, bias=True)
    fast, plain = fast.to(memory_format=torch.channels_last), plain.to(memory_format=torch.channels_last)
    x = torch.randn(4, 5, *((8, 8) if transposed else (16, 16))).to(memory_format=torch.channels_last)
    grads = []
    for module in (fast, plain):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = module(x)
        assert out.dtype == torch.bfloat16
        grads.append(torch.autograd.grad(out.float().square().sum(), list(module.parameters())))
    for got, want in zip(*grads):
        assert got.dtype == torch.float32
        torch.testing.assert_close(got, want, rtol=2e-2, atol=2e-2 * want.abs().max().item())


def test_without_autograd_the_plain_op_runs(monkeypatch):
    """Eval, no_grad and export never see the custom function (ONNX / TorchScript trace the plain conv)."""
    import ganforge.models.matmul_grad as matmul_grad

    fast, plain = _pair(transposed=False, bias=True)
    x = torch.randn(2, 5, 8, 8)
    monkeypatch.setattr(matmul_grad._Stride2Conv4x4, "apply", None)  # calling it would fail
    with torch.no_grad():
        torch.testing.assert_close(fast(x), plain(x))
    fast.requires_grad_(False)
    torch.testing.assert_close(fast(x), plain(x))


def test_nearest_conv_with_the_matmul_gradient_equals_upscaling_then_conv():
    """G's first upscaling block (NearestConv's folded transposed conv, matmul weight gradient): the outputs and
    the input / 3x3-weight gradients of nn.Upsample + nn.Conv2d, float64, channels_last."""
    torch.manual_seed(0)
    fast = NearestConv(5, 3, matmul_grad=True).double().to(memory_format=torch.channels_last)
    plain = torch.nn.Conv2d(5, 3, 3, 1, 1, bias=False).double()
    plain.load_state_dict(fast.state_dict())
    x = torch.randn(2, 5, 4, 6, dtype=torch.float64).to(memory_format=torch.channels_last).requires_grad_()
    out = fast(x)
    reference = plain(torch.nn.functional.interpolate(x, scale_factor=2, mode="nearest"))
    torch.testing.assert_close(out, reference)
    torch.testing.assert_close(torch.autograd.grad(out.square().sum(), (x, fast.weight)),
                               torch.autograd.grad(reference.square().sum(), (x, plain.weight)))
