"""Fast-path choices for the training loop that are not about numeric precision (runtime.py owns that).

The fused Adam kernel steps all of a network's weights at once instead of launching a few small kernels per
parameter, twice per training step (timings in docs/speed.md, benchmarks/train_speed.py).
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Iterable

import torch

from ganforge.config import TrainConfig

FUSED_ADAM_DEVICES = ("cpu", "cuda")  # where torch has a fused Adam kernel


def adam(params: Iterable[torch.nn.Parameter], lr: float, betas: tuple[float, float],
         device: torch.device) -> torch.optim.Adam:
    """Adam with fp32 state, fused into one kernel where torch has one, else the multi-tensor (foreach) path."""
    if device.type in FUSED_ADAM_DEVICES:
        return torch.optim.Adam(params, lr=lr, betas=betas, fused=True)
    return torch.optim.Adam(params, lr=lr, betas=betas, foreach=True)


def set_threads(threads: int) -> None:
    """Intra-op CPU threads; 0 keeps PyTorch's default (one per physical core, or $OMP_NUM_THREADS)."""
    if threads > 0:
        torch.set_num_threads(threads)


def process_settings(config: TrainConfig, device: torch.device) -> None:
    """The process-wide settings a run asks for: its CPU thread count and, on the CPU, keeping freed memory.

    Made by the code that starts the process (`train()`, `ganforge train`), never by a run's builder: they
    outlive the run and apply to everything else the process does."""
    set_threads(config.threads)
    if device.type == "cpu":
        keep_freed_memory()  # no page faults on every step's big tensors


# glibc's mallopt parameters
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_THRESHOLD_MAX = 32 << 20  # glibc's upper limit on 64-bit systems


def keep_freed_memory() -> bool:
    """Keep freed memory in the process for the next step's tensors (glibc; False where there is none).

    By default glibc hands big freed blocks back to the system and the next step's tensors fault every page in
    again (zeroed by the kernel): a fixed setting stops its threshold from adapting, and the top of the heap is
    no longer trimmed. The same idea as PyTorch's CUDA caching allocator, or jemalloc / tcmalloc preloaded for CPU
    training. Winograd's transforms allocate a few buffers per layer, which made the digits recipe's step
    clearly faster with this than without (docs/speed.md). Memory freed after a peak stays with the process
    until it exits."""
    name = ctypes.util.find_library("c")
    if not name or not name.startswith("libc.so"):  # glibc only (macOS's and musl's allocators differ)
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX) and mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))
