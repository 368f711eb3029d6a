"""Stride-2 4x4 convs (padding 1) by Winograd's minimal filtering: 9 multiplies where the conv does 16.

A stride-2 4x4 conv is a stride-1 2x2 conv on the input's space-to-depth form (each 2x2 block of pixels one
pixel of 4x the channels). Winograd's F(2x2, 2x2) computes each 2x2 tile of that conv's output from a 3x3 tile
of its input with 9 products instead of 16, one per (row, column) of
    input transform   B^T = [[1, -1, 0], [0, 1, 0], [0, -1, 1]]    (d0 - d1, d1, d2 - d1)
    kernel transform  G   = [[1, 0], [1, 1], [0, 1]]                (g0, g0 + g1, g1)
    output transform  A^T = [[1, 1, 0], [0, 1, 1]]                  (m0 + m1, m1 + m2)
in both dimensions; over channels the 9 products are 9 matrix products (tiles x 4 C_in) @ (4 C_in x C_out).
The transposed conv is the conv's adjoint, and both gradients stay in the transformed domain, so the forward, the
input gradient and the weight gradient each do 9/16 of the conv's multiply-adds, in matrix products that run
near the CPU's matmul peak; the transforms are a few additions over maps 2.25x the input's size.

Exact in exact arithmetic. In bf16 the transformed kernel and tiles are rounded as well as the inputs: the relative
error is a few times that of a bf16 conv (tests/accel/test_winograd.py bounds it; figures: docs/speed.md), of the
order of bf16's own rounding.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def applies(x: torch.Tensor, transposed: bool) -> bool:
    """Whether the map's size splits into whole tiles (a conv's output, or a transposed conv's input, of even
    height and width)."""
    h, w = x.shape[-2:]
    return (h % 2 == 0 and w % 2 == 0) if transposed else (h % 4 == 0 and w % 4 == 0)


def _memory_format(channels_last: bool) -> torch.memory_format:
    return torch.channels_last if channels_last else torch.contiguous_format


def _transform_pair(t: torch.Tensor, dim: int) -> torch.Tensor:
    """G along `dim` (size 2 -> a new leading dim of size 3): (g0, g0 + g1, g1)."""
    g0, g1 = t.select(dim, 0), t.select(dim, 1)
    return torch.stack([g0, g0 + g1, g1])


def _transform_pair_adjoint(t: torch.Tensor, dim: int) -> torch.Tensor:
    """The adjoint of _transform_pair: the leading dim of size 3 -> `dim` of size 2, (t0 + t1, t1 + t2)."""
    return torch.stack([t[0] + t[1], t[1] + t[2]], dim)


def kernel_transform(weight: torch.Tensor) -> torch.Tensor:
    """A conv's (C_out, C_in, 4, 4) kernel (a transposed conv's (C_in, C_out, 4, 4)) -> (9, C_out, 4 C_in):
    transformed tap (i, j) as a matrix over output channel x (row phase, column phase, input channel)."""
    c_out, c_in = weight.shape[:2]
    taps = weight.permute(0, 2, 3, 1).reshape(c_out, 2, 2, 2, 2, c_in)  # (o, p, a, q, b, c): row 2p+a, column 2q+b
    by_columns = _transform_pair(taps, 3)  # (j, o, p, a, b, c)
    return _transform_pair(by_columns, 2).reshape(9, c_out, 4 * c_in)  # (i, j, o, a, b, c)


def kernel_transform_adjoint(grad: torch.Tensor, channels_last: bool) -> torch.Tensor:
    """The gradient of kernel_transform: (9, C_out, 4 C_in) -> (C_out, C_in, 4, 4) in the weight's format."""
    c_out, c_in = grad.shape[1], grad.shape[2] // 4
    by_columns = _transform_pair_adjoint(grad.view(3, 3, c_out, 2, 2, c_in), 2)  # (j, o, p, a, b, c)
    taps = _transform_pair_adjoint(by_columns, 3)  # (o, p, a, q, b, c)
    weight = taps.view(c_out, 4, 4, c_in).permute(0, 3, 1, 2)
    return weight.contiguous(memory_format=_memory_format(channels_last))


def input_transform(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (9, B * H/4 * W/4, 4 C): each output tile's 3x3 input tile (space-to-depth, zero padding 1),
    transformed by B^T . B."""
    batch, channels, height, width = x.shape
    rows, cols = height // 4, width // 4
    half_w = width // 2 + 1
    blocks = F.pad(x, (1, 1, 1, 1)).permute(0, 2, 3, 1).reshape(batch, height // 2 + 1, 2, half_w, 2, channels)
    even, odd = blocks[:, 0::2], blocks[:, 1::2]  # space-to-depth rows 2t and 2t + 1
    r = torch.empty(3, batch, rows, 2, half_w, 2, channels, dtype=x.dtype, device=x.device)
    torch.sub(even[:, :rows], odd, out=r[0])
    r[1].copy_(odd)
    torch.sub(even[:, 1:], odd, out=r[2])
    v = torch.empty(3, 3, batch, rows, cols, 2, 2, channels, dtype=x.dtype, device=x.device)
    v_cols = v.permute(1, 0, 2, 3, 5, 4, 6, 7)  # (j, i, b, t, a, u, b', c): the column transform writes here
    even, odd = r[:, :, :, :, 0::2], r[:, :, :, :, 1::2]
    torch.sub(even[:, :, :, :, :cols], odd, out=v_cols[0])
    v_cols[1].copy_(odd)
    torch.sub(even[:, :, :, :, 1:], odd, out=v_cols[2])
    return v.view(9, batch * rows * cols, 4 * channels)


def input_transform_adjoint(v: torch.Tensor, shape: torch.Size, channels_last: bool) -> torch.Tensor:
    """The gradient of input_transform: (9, B * H/4 * W/4, 4 C) -> (B, C, H, W), overlapping tiles summed."""
    batch, channels, height, width = shape
    rows, cols = height // 4, width // 4
    half_w = width // 2 + 1
    v = v.view(3, 3, batch, rows, cols, 2, 2, channels).permute(1, 0, 2, 3, 5, 4, 6, 7)  # (j, i, b, t, a, u, b', c)
    r = torch.empty(3, batch, rows, 2, half_w, 2, channels, dtype=v.dtype, device=v.device)
    even, odd = r[:, :, :, :, 0::2], r[:, :, :, :, 1::2]  # (column d0 - d1, d1, d2 - d1): d0, d2 even, d1 odd
    even[:, :, :, :, :cols].copy_(v[0])
    even[:, :, :, :, cols].zero_()
    even[:, :, :, :, 1:].add_(v[2])
    torch.sub(v[1], v[0], out=odd)
    odd.sub_(v[2])
    blocks = torch.empty(batch, height // 2 + 1, 2, half_w, 2, channels, dtype=v.dtype, device=v.device)
    even, odd = blocks[:, 0::2], blocks[:, 1::2]
    even[:, :rows].copy_(r[0])
    even[:, rows].zero_()
    even[:, 1:].add_(r[2])
    torch.sub(r[1], r[0], out=odd)
    odd.sub_(r[2])
    padded = blocks.view(batch, height + 2, width + 2, channels)[:, 1:-1, 1:-1].permute(0, 3, 1, 2)
    return padded.contiguous(memory_format=_memory_format(channels_last))


def output_transform(m: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """(9, B * T * U, C) -> the (B, C, 2T, 2U) output (channels_last), each 3x3 product tile -> a 2x2 tile by
    A^T . A. `shape`: the output's (B, C, 2T, 2U)."""
    batch, channels, height, width = shape
    rows, cols = height // 2, width // 2
    m = m.view(3, 3, batch, rows, cols, channels)
    by_rows = torch.stack([m[0] + m[1], m[1] + m[2]])  # (2, 3, b, t, u, c)
    out = torch.empty(batch, rows, 2, cols, 2, channels, dtype=m.dtype, device=m.device)
    for r in range(2):
        torch.add(by_rows[r, 0], by_rows[r, 1], out=out[:, :, r, :, 0])
        torch.add(by_rows[r, 1], by_rows[r, 2], out=out[:, :, r, :, 1])
    return out.view(batch, height, width, channels).permute(0, 3, 1, 2)


def output_transform_adjoint(y: torch.Tensor) -> torch.Tensor:
    """The gradient of output_transform: (B, C, 2T, 2U) -> (9, B * T * U, C)."""
    batch, channels, height, width = y.shape
    rows, cols = height // 2, width // 2
    tiles = y.permute(0, 2, 3, 1).reshape(batch, rows, 2, cols, 2, channels)
    m = torch.empty(3, 3, batch, rows, cols, channels, dtype=y.dtype, device=y.device)
    by_rows = torch.empty(3, batch, rows, cols, 2, channels, dtype=y.dtype, device=y.device)
    by_rows[0].copy_(tiles[:, :, 0])
    torch.add(tiles[:, :, 0], tiles[:, :, 1], out=by_rows[1])
    by_rows[2].copy_(tiles[:, :, 1])
    m[:, 0].copy_(by_rows[..., 0, :])
    torch.add(by_rows[..., 0, :], by_rows[..., 1, :], out=m[:, 1])
    m[:, 2].copy_(by_rows[..., 1, :])
    return m.view(9, batch * rows * cols, channels)


def _conv_shape(x_shape: torch.Size, c_out: int) -> torch.Size:
    return torch.Size((x_shape[0], c_out, x_shape[2] // 2, x_shape[3] // 2))


class WinogradStride2(torch.autograd.Function):
    """conv2d(x, w, None, 2, 1) or conv_transpose2d(x, w, None, 2, 1) with a 4x4 kernel, by F(2x2, 2x2).

    A conv maps the big map to the small one: tiles (input transform) -> products -> output transform. The
    transposed conv runs that chain backwards (adjoints). Each direction saves the transformed operand the weight
    gradient needs, so no transform is computed twice."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, transposed: bool) -> torch.Tensor:
        u = kernel_transform(weight)
        channels_last = x.is_contiguous(memory_format=torch.channels_last)
        ctx.transposed, ctx.channels_last = transposed, channels_last
        ctx.weight_shape, ctx.weight_channels_last = weight.shape, weight.is_contiguous(
            memory_format=torch.channels_last)
        if not transposed:  # x big -> small
            tiles = input_transform(x)
            out = output_transform(torch.bmm(tiles, u.transpose(1, 2)), _conv_shape(x.shape, weight.shape[0]))
            ctx.big_shape = x.shape
        else:  # x small -> big
            tiles = output_transform_adjoint(x)
            big = torch.Size((x.shape[0], weight.shape[1], 2 * x.shape[2], 2 * x.shape[3]))
            out = input_transform_adjoint(torch.bmm(tiles, u), big, channels_last)
            ctx.big_shape = big
        ctx.save_for_backward(tiles if ctx.needs_input_grad[1] else None, u if ctx.needs_input_grad[0] else None)
        return out.contiguous(memory_format=_memory_format(channels_last))

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        tiles, u = ctx.saved_tensors
        grad_x = grad_w = None
        c_out = ctx.weight_shape[0]
        if not ctx.transposed:  # grad is the small map's: tiles are the big map's transformed input tiles
            products = output_transform_adjoint(grad)
            if ctx.needs_input_grad[0]:
                grad_x = input_transform_adjoint(torch.bmm(products, u), ctx.big_shape,
                                                 ctx.channels_last)
            if ctx.needs_input_grad[1]:
                grad_w = kernel_transform_adjoint(torch.bmm(products.transpose(1, 2), tiles), ctx.weight_channels_last)
        else:  # grad is the big map's: tiles are the small input's output-transform adjoint
            big_tiles = input_transform(grad)
            if ctx.needs_input_grad[0]:
                grad_x = output_transform(torch.bmm(big_tiles, u.transpose(1, 2)), _conv_shape(grad.shape, c_out))
                grad_x = grad_x.contiguous(memory_format=_memory_format(ctx.channels_last))
            if ctx.needs_input_grad[1]:
                grad_w = kernel_transform_adjoint(torch.bmm(tiles.transpose(1, 2), big_tiles), ctx.weight_channels_last)
        return grad_x, grad_w, None


def winograd_stride2(x: torch.Tensor, weight: torch.Tensor, transposed: bool = False) -> torch.Tensor:
    """F.conv2d / F.conv_transpose2d (stride 2, padding 1, no bias) of a 4x4 kernel by F(2x2, 2x2); x and weight
    of one dtype (cast them first under autocast)."""
    return WinogradStride2.apply(x, weight, transposed)
