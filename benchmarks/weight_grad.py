"""Weight gradients of stride-2 4x4 convs: oneDNN's kernel against one matrix product over the unfolded input
(models/matmul_grad.py), the shapes of DCGAN's D (G's mirrored transposed convs have the same sums).

    python benchmarks/weight_grad.py              # bf16, 2 threads, batches 64 and 128
    python benchmarks/weight_grad.py --threads 1

Each row: one conv (c_in -> c_out, input size), its forward for scale, and the weight gradient both ways, median
ms of interleaved windows. ganforge uses the matrix product only between the 8 px and 4 px maps (dcgan.MATMUL_GRAD),
where it won on this project's CPU; for larger maps oneDNN's kernel was as fast or faster.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from ganforge.models.matmul_grad import weight_grad

SHAPES = ((48, 96, 16), (96, 192, 8), (64, 128, 16), (128, 256, 8), (128, 256, 16), (256, 512, 8))


def timed(fn, steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    return (time.perf_counter() - start) / steps * 1e3


def three_ways(x: torch.Tensor, w: torch.Tensor, grad: torch.Tensor) -> dict:
    """The conv's forward, and its weight gradient by oneDNN and by the matrix product."""
    backward = torch.ops.aten.convolution_backward
    mask = [False, True, False]  # the weight's gradient only
    return {"forward": lambda: F.conv2d(x, w, None, 2, 1),
            "oneDNN": lambda: backward(grad, x, w, None, [2, 2], [1, 1], [1, 1], False, [0, 0], 1, mask),
            "matmul": lambda: weight_grad(x, grad)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--windows", type=int, default=5)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"bf16, channels_last, {args.threads} thread(s); median ms of {args.windows} windows of {args.steps}")
    for batch in (64, 128):
        for c_in, c_out, size in SHAPES:
            x = torch.randn(batch, c_in, size, size).bfloat16().to(memory_format=torch.channels_last)
            w = torch.randn(c_out, c_in, 4, 4).bfloat16().to(memory_format=torch.channels_last)
            grad = torch.randn_like(F.conv2d(x, w, None, 2, 1)).contiguous(memory_format=torch.channels_last)
            variants = three_ways(x, w, grad)
            for fn in variants.values():
                timed(fn, 3)  # warm-up
            times: dict[str, list[float]] = {name: [] for name in variants}
            for _ in range(args.windows):
                for name, fn in variants.items():
                    times[name].append(timed(fn, args.steps))
            ms = {name: statistics.median(t) for name, t in times.items()}
            print(f"batch {batch:>3}, {c_in:>3} -> {c_out:<3} from {size:>2} px: forward {ms['forward']:.2f}, "
                  f"weight gradient oneDNN {ms['oneDNN']:.2f}, matmul {ms['matmul']:.2f} "
                  f"({ms['oneDNN'] / ms['matmul']:.2f}x)")


if __name__ == "__main__":
    main()
