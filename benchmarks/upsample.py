"""G's upscaling blocks: nearest + 3x3 conv (the reference) against the same computed on the small map
(NearestConv), sub-pixel conv and transposed conv.

    python benchmarks/upsample.py                 # DCGAN's G blocks, batch 64, bf16, one thread
    python benchmarks/upsample.py --precision fp32 --threads 2
    python benchmarks/upsample.py --training-step --threads 2   # whole recommended-preset steps, see below

Each row is one upscaling block of DCGAN's G (c_in -> c_out channels, input resolution): the digits G at
32 px (width 64, one channel), then the last two blocks of an RGB G at 64 px. Timed forward + backward as in
training (channels_last, autocast, gradients to the input and the weights). Timed windows of the variants
are interleaved and the medians compared, so a load change on a shared machine hits all of them alike.
"nearest folded" is the identical function (accel/nearest.py: NearestConv), computed as the equivalent stride-2
transposed conv of the small map with a folded kernel (4/9 of the FLOPs); sub-pixel conv has the same FLOPs as
nearest + conv but is a different model; a free transposed conv has the folded form's FLOPs but draws checkerboards
(why ganforge's recipes do not use it). Each block is built as DCGAN builds it and accelerated as the Trainer does
(the folded and transposed blocks through accel/stride2.py, Winograd included where the default policy takes it).

--training-step times whole steps of the recommended preset six ways, each a Trainer with its own AccelPolicy:
"nearest" (AccelPolicy.plain(): the plain Upsample + Conv2d pair, plain convs at both ends), "nearest folded"
(fold_nearest), "+ linear ends" (also G's first layer and D's heads as the identical linear layers: linear_ends),
"+ matmul grad" (also the weight gradient of the convs between maps of at most 16 px as one matrix product:
matmul_grad_dtypes), "+ sub-pixel" (also G's last layer and D's first layer's input gradient as a 3x3 conv + pixel
shuffle: subpixel_max_outputs) and "+ Winograd" (also the wide layers between maps of at most 16 px by Winograd's
F(2x2, 2x2): winograd_dtypes; this is the default policy).
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from ganforge.accel import AccelPolicy, accelerate
from ganforge.models.dcgan import _upsample_block

if TYPE_CHECKING:
    from ganforge.training.loop import Trainer

BLOCKS = ((256, 128, 4), (128, 64, 8), (64, 1, 16),  # DCGAN-32's G at width 64, one output channel (digits)
          (512, 256, 4), (128, 64, 16), (64, 3, 32))  # DCGAN-64's G (RGB): first and last two blocks
MODES = ("nearest", "nearest folded", "subpixel", "transpose")


def build_block(name: str, c_in: int, c_out: int) -> nn.Module:
    """One upscaling block as DCGAN builds it, accelerated with the default policy; "nearest" is the plain
    Upsample + Conv2d pair."""
    block = nn.Sequential(*_upsample_block(c_in, c_out, name.split()[0]))
    return accelerate(block, AccelPolicy.plain() if name == "nearest" else AccelPolicy())


def time_block(block: nn.Module, x: torch.Tensor, dtype: torch.dtype | None, steps: int) -> float:
    """Mean ms of `steps` forward + backward passes."""
    start = time.perf_counter()
    for _ in range(steps):
        inp = x.detach().requires_grad_(True)
        with torch.autocast("cpu", dtype=dtype or torch.float32, enabled=dtype is not None):
            out = block(inp)
        out.float().sum().backward()
    return (time.perf_counter() - start) / steps * 1e3


def time_steps(trainer: Trainer, steps: int) -> float:
    """Mean ms of `steps` training steps."""
    start = time.perf_counter()
    for _ in range(steps):
        trainer.step_fn(*trainer.next_batch())
    return (time.perf_counter() - start) / steps * 1e3


def step_policies() -> dict[str, AccelPolicy]:
    """The --training-step variants: each adds one form to the one before, from nothing to the default policy."""
    policies = {"nearest": AccelPolicy.plain()}
    default = AccelPolicy()
    for name, fields in (("nearest folded", ["fold_nearest"]), ("+ linear ends", ["linear_ends"]),
                         ("+ matmul grad", ["matmul_grad_dtypes"]), ("+ sub-pixel", ["subpixel_max_outputs"]),
                         ("+ Winograd", ["winograd_dtypes"])):
        previous = list(policies.values())[-1]
        policies[name] = dataclasses.replace(previous, **{field: getattr(default, field) for field in fields})
    assert policies["+ Winograd"] == default
    return policies


def training_steps(args: argparse.Namespace) -> None:
    """Whole steps of the recommended preset (digits at 32 px; shapes at 64 px), one Trainer per policy of
    step_policies(), in one process, windows interleaved."""
    import tempfile

    from ganforge.config import resolve_config
    from ganforge.training.loop import Trainer

    window = 30
    settings = {"digits": {"upsample": "nearest"}, "shapes": {"resolution": 64, "upsample": "nearest"}}
    for data, extra in ((name, settings[name]) for name in args.data.split(",")):
        trainers = {}
        for name, policy in step_policies().items():
            config = resolve_config({"data": data, "preset": "recommended", "total_steps": 10**9,
                                     "seed": 0, "threads": args.threads, "sample_every": 10**9,
                                     "checkpoint_every": 10**9, "log_every": 10**9, **extra})
            trainers[name] = Trainer(config, Path(tempfile.mkdtemp()) / "run", quiet=True, accel=policy)

        for trainer in trainers.values():
            time_steps(trainer, 10)  # warm-up
        times: dict[str, list[float]] = {name: [] for name in trainers}
        for _ in range(args.windows):
            for name, trainer in trainers.items():
                times[name].append(time_steps(trainer, window))
        ms = {name: statistics.median(t) for name, t in times.items()}
        shown = ", ".join(f"{name} {ms[name]:.1f} ms ({ms['nearest'] / ms[name]:.3f}x)" for name in ms)
        print(f"{data} ({extra.get('resolution', 32)} px) training step, "
              f"{args.threads} thread(s), median of {args.windows} windows of {window}: {shown}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--precision", choices=("bf16", "fp32"), default="bf16")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--windows", type=int, default=7)
    parser.add_argument("--steps", type=int, default=10, help="passes per timed window")
    parser.add_argument("--training-step", action="store_true", help="time whole training steps instead")
    parser.add_argument("--data", default="digits,shapes", help="--training-step: digits, shapes (64 px) or both")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.training_step:
        training_steps(args)
        return
    dtype = torch.bfloat16 if args.precision == "bf16" else None
    print(f"batch {args.batch_size}, {args.precision}, {args.threads} thread(s); ms forward + backward, "
          f"median of {args.windows} windows")
    totals = dict.fromkeys(MODES, 0.0)
    for c_in, c_out, res in BLOCKS:
        x = torch.randn(args.batch_size, c_in, res, res).to(memory_format=torch.channels_last)
        blocks = {name: build_block(name, c_in, c_out).to(memory_format=torch.channels_last) for name in MODES}
        for block in blocks.values():
            time_block(block, x, dtype, 3)  # warm-up: oneDNN picks and caches its kernels
        times: dict[str, list[float]] = {mode: [] for mode in MODES}
        for _ in range(args.windows):
            for mode, block in blocks.items():
                times[mode].append(time_block(block, x, dtype, args.steps))
        medians = {mode: statistics.median(t) for mode, t in times.items()}
        for mode in MODES:
            totals[mode] += medians[mode]
        shown = ", ".join(f"{mode} {medians[mode]:.1f} ({medians['nearest'] / medians[mode]:.2f}x)" for mode in MODES)
        print(f"{c_in:>4} -> {c_out:<4} from {res:>2} px: {shown}")
        if (c_in, c_out, res) == (64, 1, 16):
            shown = ", ".join(f"{m} {totals[m]:.1f} ({totals['nearest'] / totals[m]:.2f}x)" for m in MODES)
            print(f"the digits G's three blocks: {shown}")


if __name__ == "__main__":
    main()
