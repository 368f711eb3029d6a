"""Fast-path choices for the training loop that are not about numeric precision (runtime.py owns that).

Measured on a 2-core CPU (benchmarks/train_speed.py, docs/speed.md): the fused Adam kernel steps
DCGAN-64's 6.4M weights in about 5 ms where the per-parameter loop takes about 32 ms, twice per
training step.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

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
