"""DCGAN's stride-2 4x4 convs on CPU: oneDNN's kernels against the forms of accel/stride2.py and accel/winograd.py.

    python benchmarks/stride2_conv.py                    # bf16, 2 threads, batches 64 and 128
    python benchmarks/stride2_conv.py --precision fp32   # the matrix product loses there (ganforge keeps oneDNN's)
    python benchmarks/stride2_conv.py --threads 1
    python benchmarks/stride2_conv.py --sections layers  # whole layers: oneDNN, stride2, Winograd

Weight gradients (the shapes of DCGAN's D; G's mirrored transposed convs have the same sums): each row is one conv
(c_in -> c_out, input size), its forward for scale, and the weight gradient by oneDNN and as one matrix product
over the unfolded input. ganforge uses the matrix product for the convs between maps of at most 16 px
(AccelPolicy.matmul_grad_max_px). Few-output transposed convs (G's last layer; D's first conv's input gradient is the
same op): oneDNN's transposed conv against the 3x3 conv to 4x the channels + pixel shuffle (the kernel folded in
the timed call, as training does). Whole layers (forward, then the input and weight gradients, as D's and G's
layers run in training; DCGAN-64's shapes): oneDNN, stride2's form without Winograd (the default policy with
winograd_dtypes=(): the matmul weight gradient where the map rule takes it), and Winograd's F(2x2, 2x2)
(accel/winograd.py; the default policy uses it for maps of at most winograd_max_px with at least
winograd_min_channels channels). Median ms of interleaved windows.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from ganforge.accel import AccelPolicy
from ganforge.accel.stride2 import stride2_conv4x4, subpixel_kernel, weight_grad
from ganforge.accel.winograd import winograd_stride2

WEIGHT_GRAD_SHAPES = ((48, 96, 16), (96, 192, 8), (64, 128, 16), (128, 256, 8), (128, 256, 16), (256, 512, 8))
FEW_OUTPUT_SHAPES = ((48, 1, 16), (64, 1, 16), (64, 3, 16), (64, 3, 32), (32, 3, 64))  # c_in -> c_out from size
# (transposed, c_in, c_out, input size): DCGAN-64's D convs from 32, 16, 8 px and G's upscalings from 4, 8, 16 px
LAYER_SHAPES = ((False, 64, 128, 32), (False, 128, 256, 16), (False, 256, 512, 8),
                (True, 512, 256, 4), (True, 256, 128, 8), (True, 128, 64, 16))
CL = torch.channels_last
DTYPE = torch.bfloat16  # --precision
NO_WINOGRAD = dataclasses.replace(AccelPolicy(), winograd_dtypes=())


def timed(fn: Callable[[], object], steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    return (time.perf_counter() - start) / steps * 1e3


def medians(variants: dict[str, Callable[[], object]], windows: int, steps: int) -> dict[str, float]:
    for fn in variants.values():
        timed(fn, 3)  # warm-up
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(windows):
        for name, fn in variants.items():
            times[name].append(timed(fn, steps))
    return {name: statistics.median(t) for name, t in times.items()}


def weight_grad_ways(batch: int, c_in: int, c_out: int, size: int) -> dict[str, Callable[[], object]]:
    """The conv's forward, and its weight gradient by oneDNN and by the matrix product."""
    x = torch.randn(batch, c_in, size, size, dtype=DTYPE).to(memory_format=CL)
    w = torch.randn(c_out, c_in, 4, 4, dtype=DTYPE).to(memory_format=CL)
    grad = torch.randn_like(F.conv2d(x, w, None, 2, 1)).contiguous(memory_format=CL)
    backward = torch.ops.aten.convolution_backward
    mask = [False, True, False]  # the weight's gradient only
    return {"forward": lambda: F.conv2d(x, w, None, 2, 1),
            "oneDNN": lambda: backward(grad, x, w, None, [2, 2], [1, 1], [1, 1], False, [0, 0], 1, mask),
            "matmul": lambda: weight_grad(x, grad)}


def few_output_ways(batch: int, c_in: int, c_out: int, size: int) -> dict[str, Callable[[], object]]:
    x = torch.randn(batch, c_in, size, size, dtype=DTYPE).to(memory_format=CL)
    w = torch.randn(c_in, c_out, 4, 4, dtype=DTYPE) * 0.02
    return {"oneDNN": lambda: F.conv_transpose2d(x, w, None, 2, 1),
            "sub-pixel": lambda: F.pixel_shuffle(F.conv2d(x, subpixel_kernel(w), None, 1, 1), 2)}


def layer_ways(batch: int, transposed: bool, c_in: int, c_out: int, size: int) -> dict[str, Callable[[], object]]:
    """One layer's forward + backward (input and weight gradients) by oneDNN, by stride2 without Winograd (the
    matmul weight gradient where the default policy's map rule takes it) and by Winograd."""
    x = torch.randn(batch, c_in, size, size, dtype=DTYPE).to(memory_format=CL).requires_grad_()
    w = (torch.randn(*((c_in, c_out) if transposed else (c_out, c_in)), 4, 4, dtype=DTYPE) * 0.02).to(
        memory_format=CL).requires_grad_()
    op = F.conv_transpose2d if transposed else F.conv2d
    grad = torch.randn_like(op(x, w, None, 2, 1)).contiguous(memory_format=CL)

    def stride2_form() -> torch.Tensor:
        return stride2_conv4x4(x, w, None, NO_WINOGRAD, transposed)

    def step(forward: Callable[[], torch.Tensor]) -> Callable[[], object]:
        return lambda: torch.autograd.grad(forward(), (x, w), grad)

    return {"oneDNN": step(lambda: op(x, w, None, 2, 1)), "stride2": step(stride2_form),
            "Winograd": step(lambda: winograd_stride2(x, w, transposed))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--windows", type=int, default=5)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--precision", choices=("bf16", "fp32"), default="bf16")
    parser.add_argument("--sections", default="weight-grad,few-outputs,layers",
                        help="which tables, comma-separated: weight-grad, few-outputs, layers")
    args = parser.parse_args()
    sections = set(args.sections.split(","))
    global DTYPE
    DTYPE = torch.bfloat16 if args.precision == "bf16" else torch.float32
    torch.set_num_threads(args.threads)
    print(f"{args.precision}, channels_last, {args.threads} thread(s); "
          f"median ms of {args.windows} windows of {args.steps}")
    for batch in (64, 128) if "weight-grad" in sections else ():
        for c_in, c_out, size in WEIGHT_GRAD_SHAPES:
            ms = medians(weight_grad_ways(batch, c_in, c_out, size), args.windows, args.steps)
            print(f"batch {batch:>3}, {c_in:>3} -> {c_out:<3} from {size:>2} px: forward {ms['forward']:.2f}, "
                  f"weight gradient oneDNN {ms['oneDNN']:.2f}, matmul {ms['matmul']:.2f} "
                  f"({ms['oneDNN'] / ms['matmul']:.2f}x)", flush=True)
    for batch in (64, 128) if "few-outputs" in sections else ():
        for c_in, c_out, size in FEW_OUTPUT_SHAPES:
            ms = medians(few_output_ways(batch, c_in, c_out, size), args.windows, args.steps)
            print(f"batch {batch:>3}, transposed {c_in:>3} -> {c_out} from {size:>2} px: oneDNN {ms['oneDNN']:.2f}, "
                  f"sub-pixel {ms['sub-pixel']:.2f} ({ms['oneDNN'] / ms['sub-pixel']:.2f}x)", flush=True)
    for batch in (64, 128) if "layers" in sections else ():
        for transposed, c_in, c_out, size in LAYER_SHAPES:
            ms = medians(layer_ways(batch, transposed, c_in, c_out, size), args.windows, args.steps)
            kind = "transposed " if transposed else ""
            print(f"batch {batch:>3}, {kind}{c_in:>3} -> {c_out:<3} from {size:>2} px, forward + both gradients: "
                  f"oneDNN {ms['oneDNN']:.2f}, stride2 {ms['stride2']:.2f}, Winograd {ms['Winograd']:.2f} "
                  f"({ms['oneDNN'] / ms['Winograd']:.2f}x oneDNN, {ms['stride2'] / ms['Winograd']:.2f}x stride2)",
                  flush=True)


if __name__ == "__main__":
    main()
