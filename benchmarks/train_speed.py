"""Training speed: ganforge's loop against a plain reference loop, same architecture, same process run.

    python benchmarks/train_speed.py             # the DCGAN table and the lever table (24 min, busy 2 cores)
    python benchmarks/train_speed.py --quick     # shorter windows; --skip-levers: the DCGAN table only
    python benchmarks/train_speed.py --compile   # also try torch.compile(dynamic=False) on the fast loop
    python benchmarks/train_speed.py --device cuda --skip-levers   # on a GPU: fp32 reference vs bf16/fp16/fp32
    python benchmarks/train_speed.py --models stylegan fastgan --skip-levers --skip-dcgan   # other models vs DCGAN

The reference is the pytorch/examples DCGAN loop written the simplest way, on the plain model (`create_model`
without `accelerate`: torch's own nn.Conv2d / nn.ConvTranspose2d, none of accel/'s faster forms): fp32, contiguous
tensors, per-item conversion from uint8 in a DataLoader, a fresh fake batch for the G step, D not frozen in
the G step, the default (per-parameter) Adam, `zero_grad()`, and `.item()` of the losses every step.
"ganforge" is the real Trainer (training/loop.py) driven step by step, with its own data stream, fused
Adam, channels_last, precision and recipe step, and `--augment off`: the same job as the reference (the
benchmark's 1,024 images would otherwise switch ADA on). Each img/s is the median of several timed windows after
warm-up, the variants' windows interleaved so a load change on a shared machine hits all of them alike; compare
ratios, not absolute figures across runs.

FLOPs are convolution + matmul FLOPs of one step counted by torch.utils.flop_counter.FlopCounterMode: the
arithmetic each loop executes (ganforge's Winograd layers do 9/16 of a conv's multiply-adds, and are counted so).
Peak rates are measured in the same interleaved windows as each configuration's loops (so under the
same load): the fastest of DCGAN-64 discriminator's three largest strided convolutions (batch 64,
forward + backward, channels_last) in bf16 and fp32, and a 1024^3 matmul in each; utilisation is a
loop's achieved FLOP/s over the peak of the precision it ran in. Memory: a fresh child process builds
one loop, resets its peak-RSS mark (/proc/self/clear_refs), runs 3 steps and reports VmHWM (the peak
resident set, MiB) and its growth over the resident set before the first step (activations,
gradients, optimiser state, allocator caches). Linux only.

`--models M ...` adds a table of ganforge's loop for other models (each with its own defaults, `--preset plain`)
beside DCGAN's at 64 px, batch 64: img/s and memory, and the ratio to DCGAN. A model whose step varies (stylegan's
lazy R1 every 16 steps) is timed over whole windows of 16 steps, so its rate is the mean over that cycle.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from ganforge.config import TrainConfig, resolve_config
from ganforge.data import ImageDataset
from ganforge.data.builtin import render_shapes
from ganforge.images import from_uint8
from ganforge.models import create_model
from ganforge.runtime import native_bf16, resolve_precision
from ganforge.training.loop import Trainer

CONFIGS = ((32, 128), (64, 64), (64, 128))  # (resolution, batch size)
GPU_CONFIGS = CONFIGS + ((64, 512),)  # small batches leave a GPU mostly idle; 512 shows what it can do
MODEL_WINDOW = 16  # steps per timed window in the model table: stylegan's lazy R1 runs every 16 steps
DEVICE = torch.device("cpu")  # set by --device


def sync() -> None:
    """Wait for queued GPU work, so a timer reads finished work (nothing to wait for on the CPU)."""
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()
LEVERS = ("uint8 data on device", "fused Adam", "zero_grad(set_to_none)", "fake reuse in G step",
          "D frozen in G step", "channels_last", "bf16 autocast", "no per-step .item()")
LATENT = 100


# --- the plain loop, each lever switchable: no levers = the reference --------------------------------
def loader_batches(images: np.ndarray, batch_size: int) -> Iterator[torch.Tensor]:
    """Per-item float conversion in a DataLoader, as ToTensor + Normalize would do."""

    class Data(torch.utils.data.Dataset):
        def __len__(self) -> int:
            return len(images)

        def __getitem__(self, i: int) -> torch.Tensor:
            return torch.from_numpy(images[i]).permute(2, 0, 1).float().div(255).sub(0.5).div(0.5)

    while True:
        for batch in torch.utils.data.DataLoader(Data(), batch_size=batch_size, shuffle=True, drop_last=True):
            yield batch.to(DEVICE)


def device_batches(images: np.ndarray, batch_size: int) -> Iterator[torch.Tensor]:
    """uint8 images held as one tensor; a batch is an index and one conversion."""
    data = torch.from_numpy(images).to(DEVICE)
    while True:
        order = torch.randperm(len(data), device=DEVICE)
        for start in range(0, len(data) - batch_size + 1, batch_size):
            yield from_uint8(data[order[start : start + batch_size]])


def plain_steps(resolution: int, batch_size: int, images: np.ndarray, levers: frozenset[str] = frozenset(),
                compile_models: bool = False) -> Iterator[None]:
    """A DCGAN training loop on the plain model (torch's layers); yields after each step. Built before it is
    returned (for the memory probe)."""
    on = levers.__contains__
    torch.manual_seed(0)
    G, D = create_model("dcgan", resolution=resolution, channels=3, latent_dim=LATENT)  # not accelerated
    layout = torch.channels_last if on("channels_last") else torch.contiguous_format
    G.to(DEVICE, memory_format=layout)
    D.to(DEVICE, memory_format=layout)
    adam_args = dict(lr=2e-4, betas=(0.5, 0.999), **({"fused": True} if on("fused Adam") else {}))
    opt_G, opt_D = torch.optim.Adam(G.parameters(), **adam_args), torch.optim.Adam(D.parameters(), **adam_args)
    if compile_models:
        G, D = torch.compile(G, dynamic=False), torch.compile(D, dynamic=False)
    batches = (device_batches if on("uint8 data on device") else loader_batches)(images, batch_size)
    to_none = on("zero_grad(set_to_none)")
    ones, zeros = torch.ones(batch_size, device=DEVICE), torch.zeros(batch_size, device=DEVICE)

    def amp() -> contextlib.AbstractContextManager:
        return torch.autocast(DEVICE.type, dtype=torch.bfloat16) if on("bf16 autocast") else contextlib.nullcontext()

    def loop() -> Iterator[None]:
        for real in batches:
            real = real.contiguous(memory_format=layout)
            with amp():
                fake = G(torch.randn(batch_size, LATENT, device=DEVICE))
                real_logits, fake_logits = D(real), D(fake.detach())
            loss_D = F.binary_cross_entropy_with_logits(real_logits.float(), ones) + \
                F.binary_cross_entropy_with_logits(fake_logits.float(), zeros)
            opt_D.zero_grad(set_to_none=to_none)
            loss_D.backward()
            opt_D.step()
            if on("D frozen in G step"):
                D.requires_grad_(False)
            with amp():
                if not on("fake reuse in G step"):
                    fake = G(torch.randn(batch_size, LATENT, device=DEVICE))
                g_logits = D(fake)
            loss_G = F.binary_cross_entropy_with_logits(g_logits.float(), ones)
            opt_G.zero_grad(set_to_none=to_none)
            loss_G.backward()
            opt_G.step()
            D.requires_grad_(True)
            if not on("no per-step .item()"):
                _ = (loss_D.item(), loss_G.item())
            yield

    return loop()


# --- ganforge's own loop ---------------------------------------------------------------------------
def ganforge_steps(resolution: int, batch_size: int, images: np.ndarray, precision: str,
                   model: str | None = None) -> Iterator[None]:
    """The Trainer's inner loop body (training/loop.py: Trainer.run), on the Trainer's own parts; `model`: that
    model with its own defaults instead of the DCGAN defaults."""
    out = Path(tempfile.mkdtemp(prefix="ganforge-speed-"))
    atexit.register(shutil.rmtree, out, ignore_errors=True)
    settings = dict(data="shapes", resolution=resolution, channels=3, batch_size=batch_size, precision=precision,
                    device=DEVICE.type, seed=0, total_steps=10**9, sample_count=4, augment="off")
    config = TrainConfig(**settings) if model is None else resolve_config(dict(settings, model=model, preset="plain"))
    trainer = Trainer(config, out, dataset=ImageDataset(torch.from_numpy(images), name="shapes"), quiet=True)

    def loop() -> Iterator[None]:
        sums: dict[str, torch.Tensor] = {}
        while True:
            real, labels = trainer.batches.next()
            real = real.contiguous(memory_format=torch.channels_last)
            z = trainer.recipe.noise(batch_size, trainer.noise, trainer.device)
            for key, value in trainer.step_fn(real, z, labels).items():
                sums[key] = sums[key] + value if key in sums else value.clone()
            yield

    return loop()


def make_variant(name: str, resolution: int, batch_size: int, images: np.ndarray) -> Iterator[None]:
    if name == "reference":
        return plain_steps(resolution, batch_size, images)
    if name == "all levers":
        return plain_steps(resolution, batch_size, images, frozenset(LEVERS))
    if name.startswith("model "):
        return ganforge_steps(resolution, batch_size, images, "auto", model=name.removeprefix("model "))
    return ganforge_steps(resolution, batch_size, images, precision=name.removeprefix("ganforge "))


# --- measuring ----------------------------------------------------------------------------------------
Workload = tuple[Iterator[None], float, int]  # (steps, work units per step: images or FLOPs, steps per window)


def interleaved_rates(workloads: dict[str, Workload], warmup: int, windows: int) -> dict[str, float]:
    """Median units/s per workload; the workloads take turns window by window (same load for all)."""
    for steps, _, _ in workloads.values():
        for _ in range(warmup):
            next(steps)
    rates: dict[str, list[float]] = {name: [] for name in workloads}
    for _ in range(windows):
        for name, (steps, units, window) in workloads.items():
            sync()
            start = time.perf_counter()
            for _ in range(window):
                next(steps)
            sync()
            rates[name].append(window * units / (time.perf_counter() - start))
    return {name: statistics.median(r) for name, r in rates.items()}


def step_flops(steps: Iterator[None]) -> int:
    with FlopCounterMode(display=False) as counter:
        next(steps)
    return counter.get_total_flops()


def conv_steps(dtype: torch.dtype, c_in: int, size: int, c_out: int) -> Iterator[None]:
    """One strided 4x4 convolution of DCGAN-64's D (batch 64; 512 on a GPU), forward + backward, channels_last."""
    batch = 512 if DEVICE.type == "cuda" else 64
    conv = torch.nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False).to(DEVICE, dtype, memory_format=torch.channels_last)
    x = torch.randn(batch, c_in, size, size, dtype=dtype, device=DEVICE).contiguous(memory_format=torch.channels_last)
    x.requires_grad_(True)
    while True:
        conv(x).sum().backward()
        yield


def matmul_steps(dtype: torch.dtype) -> Iterator[None]:
    n = 8192 if DEVICE.type == "cuda" else 1024
    a, b = torch.randn(n, n, dtype=dtype, device=DEVICE), torch.randn(n, n, dtype=dtype, device=DEVICE)
    while True:
        _ = a @ b
        yield


def peak_workload(steps: Iterator[None], seconds: float = 0.4) -> Workload:
    """A peak-rate workload whose window lasts about `seconds` (FLOPs counted on its first step)."""
    flops = step_flops(steps)
    next(steps)  # GPU: the first call also picks kernels
    sync()
    start = time.perf_counter()
    next(steps)
    sync()
    return steps, flops, max(1, round(seconds / (time.perf_counter() - start)))


def peak_workloads() -> dict[str, Workload]:
    """The conv peak is the fastest of D's three largest convolutions (picked by a short trial run)."""
    workloads = {}
    for label, dtype in (("bf16", torch.bfloat16), ("fp32", torch.float32)):
        trials = [peak_workload(conv_steps(dtype, *shape), 0.2) for shape in ((64, 32, 128), (128, 16, 256),
                                                                                (256, 8, 512))]
        rates = interleaved_rates({str(i): t for i, t in enumerate(trials)}, warmup=0, windows=1)
        workloads[f"conv {label}"] = trials[int(max(rates, key=rates.get))]
        workloads[f"matmul {label}"] = peak_workload(matmul_steps(dtype))
    return workloads


def peak_memory(resolution: int, batch_size: int, variant: str, threads: int) -> tuple[float, float]:
    """(peak RSS MiB, growth MiB over the built loop) of a fresh process running 3 steps of one variant."""
    cmd = [sys.executable, __file__, "--memory-child", f"{resolution},{batch_size},{variant}",
           "--threads", str(threads), "--device", DEVICE.type]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["peak_mib"], result["growth_mib"]


def memory_child(spec: str) -> None:
    resolution, batch_size, variant = spec.split(",", 2)
    images, _ = render_shapes(1024, int(resolution), seed=0)
    steps = make_variant(variant, int(resolution), int(batch_size), images)
    if DEVICE.type == "cuda":  # GPU memory: the allocator's own peak
        sync()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated() / 2**20
        for _ in range(3):
            next(steps)
        sync()
        peak = torch.cuda.max_memory_allocated() / 2**20
        print(json.dumps({"peak_mib": peak, "growth_mib": peak - before}))
        return
    Path("/proc/self/clear_refs").write_text("5")  # reset the high-water mark: rendering the data peaks higher
    before = _proc_status_mib("VmRSS")
    for _ in range(3):
        next(steps)
    peak = _proc_status_mib("VmHWM")
    print(json.dumps({"peak_mib": peak, "growth_mib": peak - before}))


def _proc_status_mib(field: str) -> float:
    """VmRSS (resident now) or VmHWM (peak resident since the last reset) of this process, in MiB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


# --- tables ---------------------------------------------------------------------------------------------
def speed_table(args: argparse.Namespace, reps: tuple[int, int, int]) -> None:
    auto = resolve_precision("auto", DEVICE)
    ours = [f"ganforge {auto}"] + (["ganforge fp32"] if auto != "fp32" else [])
    if DEVICE.type == "cuda":
        ours += [f"ganforge {p}" for p in ("bf16", "fp16") if f"ganforge {p}" not in ours]
    print(f"\n{'config':<16}{'loop':<16}{'img/s':>8}{'ratio':>7}{'GFLOP/step':>11}{'GFLOP/s':>9}{'%conv':>7}"
          f"{'%matmul':>8}{'peak MiB':>10}{'growth':>8}")
    for resolution, batch_size in GPU_CONFIGS if DEVICE.type == "cuda" else CONFIGS:
        images, _ = render_shapes(1024, resolution, seed=0)
        names = ["reference", *ours]
        variants = {name: make_variant(name, resolution, batch_size, images) for name in names}
        flops = {name: step_flops(steps) for name, steps in variants.items()}
        warmup, window, windows = reps
        workloads = {name: (steps, batch_size, window) for name, steps in variants.items()} | peak_workloads()
        rates = interleaved_rates(workloads, warmup, windows)
        peaks = {name: rates[name] / 1e9 for name in workloads if name not in variants}
        for name in names:
            precision = "bf16" if name.endswith(("bf16", "fp16")) else "fp32"  # fp16 units run at bf16's rate
            gflops = flops[name] * rates[name] / batch_size / 1e9
            mem = "" if args.skip_memory else "{:>10.0f}{:>8.0f}".format(
                *peak_memory(resolution, batch_size, name, args.threads))
            label = f"DCGAN-{resolution} b{batch_size}" if name == "reference" else ""
            print(f"{label:<16}{name:<16}{rates[name]:>8.1f}{rates[name] / rates['reference']:>6.2f}x"
                  f"{flops[name] / 1e9:>11.2f}{gflops:>9.1f}{100 * gflops / peaks[f'conv {precision}']:>6.0f}%"
                  f"{100 * gflops / peaks[f'matmul {precision}']:>7.0f}%{mem}", flush=True)
        print(f"{'':<16}peaks in the same windows (GFLOP/s): " + ", ".join(f"{k} {v:.0f}" for k, v in peaks.items()))


def lever_table(args: argparse.Namespace, reps: tuple[int, int, int]) -> None:
    """Leave-one-out on DCGAN-64 batch 64: what each lever gives with all the others on."""
    resolution, batch_size = 64, 64
    images, _ = render_shapes(1024, resolution, seed=0)
    all_on = frozenset(LEVERS)
    variants = {"reference (no levers)": plain_steps(resolution, batch_size, images),
                "all levers": plain_steps(resolution, batch_size, images, all_on),
                "ganforge Trainer": ganforge_steps(resolution, batch_size, images, "bf16")}
    variants |= {f"all but {lever}": plain_steps(resolution, batch_size, images, all_on - {lever}) for lever in LEVERS}
    if args.compile:
        variants["all levers + torch.compile"] = compiled_or_none(resolution, batch_size, images)
        variants = {k: v for k, v in variants.items() if v is not None}
    warmup, window, windows = reps
    rates = interleaved_rates({name: (steps, batch_size, window) for name, steps in variants.items()}, warmup, windows)
    full = rates["all levers"]
    print("\nlevers, DCGAN-64 batch 64 (leave-one-out: all levers / all but one = what that lever gives)")
    print(f"{'variant':<40}{'img/s':>8}{'vs reference':>14}{'lever gives':>13}")
    for name, rate in rates.items():
        gives = f"{full / rate:>12.2f}x" if name.startswith("all but") else ""
        print(f"{name:<40}{rate:>8.1f}{rate / rates['reference (no levers)']:>13.2f}x{gives}", flush=True)


def model_table(args: argparse.Namespace, reps: tuple[int, int, int]) -> None:
    """ganforge's loop for other models beside DCGAN's (each with its own defaults), 64 px batch 64."""
    resolution, batch_size = 64, 64
    images, _ = render_shapes(1024, resolution, seed=0)
    names = [f"model {m}" for m in ["dcgan", *[m for m in args.models if m != "dcgan"]]]
    variants = {name: make_variant(name, resolution, batch_size, images) for name in names}
    warmup, _, windows = reps
    rates = interleaved_rates({name: (steps, batch_size, MODEL_WINDOW) for name, steps in variants.items()},
                              warmup, windows)
    print(f"\nmodels at {resolution} px batch {batch_size} (ganforge loop, each model's own defaults, precision auto)")
    print(f"{'model':<12}{'img/s':>8}{'vs dcgan':>10}{'peak MiB':>10}{'growth':>8}")
    for name in names:
        mem = "" if args.skip_memory else "{:>10.0f}{:>8.0f}".format(
            *peak_memory(resolution, batch_size, name, args.threads))
        print(f"{name.removeprefix('model '):<12}{rates[name]:>8.1f}{rates[name] / rates['model dcgan']:>9.2f}x{mem}",
              flush=True)


def compiled_or_none(resolution: int, batch_size: int, images: np.ndarray) -> Iterator[None] | None:
    steps = plain_steps(resolution, batch_size, images, frozenset(LEVERS), compile_models=True)
    try:
        start = time.perf_counter()
        next(steps)
        print(f"torch.compile(dynamic=False): first step {time.perf_counter() - start:.0f} s (compiling)")
        return steps
    except Exception as err:  # report and go on: the loop must not rely on compile
        print(f"torch.compile(dynamic=False) failed: {type(err).__name__}: {str(err).splitlines()[0][:200]}")
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter timed windows")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: PyTorch's default)")
    parser.add_argument("--skip-levers", action="store_true", help="only the peaks and the DCGAN table")
    parser.add_argument("--skip-memory", action="store_true", help="no memory probes (child processes)")
    parser.add_argument("--compile", action="store_true", help="also time the fast loop under torch.compile")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--models", nargs="+", default=[], metavar="MODEL",
                        help="also a table of these models beside DCGAN (e.g. stylegan fastgan msg r3gan)")
    parser.add_argument("--skip-dcgan", action="store_true", help="no DCGAN-vs-reference table")
    parser.add_argument("--memory-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    global DEVICE
    DEVICE = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.memory_child:
        return memory_child(args.memory_child)
    reps = (1, 2, 3) if args.quick else (2, 4, 5)  # warm-up steps, steps per window, windows
    if DEVICE.type == "cuda":  # milliseconds per step: longer windows, and warm-up that covers kernel selection
        reps = (10, 40, 5)
    gpu = f", GPU {torch.cuda.get_device_name()}" if DEVICE.type == "cuda" else ""
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs{gpu}, native bf16: "
          f"{native_bf16(DEVICE)}, load average {os.getloadavg()[0]:.2f}")
    if not args.skip_dcgan:
        speed_table(args, reps)
    if args.models:
        model_table(args, reps)
    if not args.skip_levers:
        lever_table(args, reps)
    print(f"\nload average at the end {os.getloadavg()[0]:.2f} (other processes on the machine disturb the figures)")


if __name__ == "__main__":
    main()
