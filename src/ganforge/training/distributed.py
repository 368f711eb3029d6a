"""Data-parallel training over several processes launched by torchrun: gloo on CPU, NCCL on GPU.

    torchrun --nproc_per_node 2 -m ganforge train --data digits --out runs/ddp

Gradients: like stylegan2-ada-pytorch, each optimiser's gradients are averaged over processes with one
flat all-reduce just before its step (an optimiser step pre-hook), rather than through the
DistributedDataParallel wrapper. A GAN step calls D three times per update and freezes D while G
learns, which DDP's per-parameter gradient hooks do not expect; the pre-hook does the same arithmetic
without any change to the recipes' steps. Processes start from rank 0's weights, so after every step
the parameters are identical on every rank (checked at every checkpoint).

Data: `batch_size` is the GLOBAL batch. Every process walks the same seeded permutation of the
in-memory images (data/batches.py) and decodes only its slice of each global batch, as a
DistributedSampler would; noise is drawn for the global batch and sliced the same way. So the
checkpoint's data position counts images of the one global stream, the noise generator is in the same
state on every rank, and a run resumes with any number of processes (1 included) at the same image,
with the same global batch. What changes with the number of processes: batch-norm statistics are over
each process's slice unless --sync-bn, and dropout (pix2pix) draws the same masks on every rank's slice
(the global RNG is seeded alike), where one process would draw fresh masks for the whole batch.

Outputs: only rank 0 writes (logs, samples, checkpoints, reports); the others read its checkpoint on
resume or rollback, so several machines need the run folder on a shared file system for those.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from ganforge.errors import GanforgeError


@dataclass(frozen=True)
class Context:
    """This process's place in the run; rank 0 of 1 when not launched by torchrun."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def place(self, device: torch.device) -> torch.device:
        """One GPU per process: cuda becomes cuda:LOCAL_RANK."""
        if self.enabled and device.type == "cuda":
            device = torch.device("cuda", self.local_rank)
            torch.cuda.set_device(device)
        return device

    def local_batch_size(self, batch_size: int) -> int:
        if batch_size % self.world_size:
            nearest = max(1, batch_size // self.world_size) * self.world_size
            raise GanforgeError(f"--batch-size {batch_size} is the global batch and must divide evenly over "
                                f"{self.world_size} processes (e.g. {nearest})")
        return batch_size // self.world_size

    def shard(self, batch: torch.Tensor | None) -> torch.Tensor | None:
        """This process's slice of a global batch (the whole batch for one process)."""
        if batch is None or not self.enabled:
            return batch
        size = self.local_batch_size(len(batch))
        return batch[self.rank * size : (self.rank + 1) * size]

    def any(self, flag: object) -> bool:
        """True on every rank when it is true on any: stop decisions (Ctrl-C, time budget) must agree."""
        if not self.enabled:
            return bool(flag)
        value = torch.tensor([int(bool(flag))])
        dist.all_reduce(value, op=dist.ReduceOp.MAX, group=_control_group())
        return bool(value.item())

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier(group=_control_group())

    @contextlib.contextmanager
    def main_first(self) -> Iterator[None]:
        """Rank 0 runs the block first (e.g. makes the run folder); the others wait, then run it."""
        if not self.is_main:
            self.barrier()
        yield
        if self.is_main:
            self.barrier()

    def mean_(self, tensors: dict[str, torch.Tensor]) -> None:
        """Average these (same-shaped on every rank) tensors over processes, in place."""
        if self.enabled and tensors:
            values = list(tensors.values())
            flat = torch.stack([v.float() for v in values])
            dist.all_reduce(flat)
            flat /= self.world_size
            for value, mean in zip(values, flat):
                value.copy_(mean)

    def average_gradients(self, optimizers: Iterable[torch.optim.Optimizer]) -> None:
        """From now on each optimiser averages its gradients over processes just before it steps."""
        if self.enabled:
            for optimizer in optimizers:
                optimizer.register_step_pre_hook(_average_gradients_hook)

    def broadcast_from_main(self, modules: Iterable[nn.Module]) -> None:
        """Every rank takes rank 0's parameters and buffers (the same start, also after a resume)."""
        if self.enabled:
            for module in modules:
                for tensor in [*module.parameters(), *module.buffers()]:
                    dist.broadcast(tensor.data, src=0)

    def check_identical(self, modules: Iterable[nn.Module]) -> None:
        """Raise if any rank's parameters differ from rank 0's (bit for bit)."""
        if not self.enabled:
            return
        digests: list[Any] = [None] * self.world_size
        dist.all_gather_object(digests, parameter_digest(modules), group=_control_group())
        differing = [rank for rank, digest in enumerate(digests) if digest != digests[0]]
        if differing:
            raise GanforgeError(f"parameters on rank(s) {differing} differ from rank 0's: the processes have "
                                "diverged (mixed torch versions or hardware across machines?)")


class NullLog:
    """The metrics log of ranks other than 0: same interface, writes nothing."""

    records: list[dict[str, Any]] = []

    def write(self, record: dict[str, Any]) -> None:
        pass

    def truncate_after(self, step: int) -> None:
        pass


def parameter_digest(modules: Iterable[nn.Module]) -> str:
    h = hashlib.sha256()
    for module in modules:
        for param in module.parameters():
            h.update(param.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _average_gradients_hook(optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
    """One all-reduce for all of this optimiser's gradients (the same parameters get gradients on every rank)."""
    grads = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= dist.get_world_size()
    offset = 0
    for g in grads:
        g.copy_(flat[offset : offset + g.numel()].view_as(g))
        offset += g.numel()


_CONTROL: list[Any] = []  # the CPU (gloo) group for small control messages, made once


def _control_group() -> Any:
    if not _CONTROL:
        cpu_ok = "gloo" in str(dist.get_backend())  # start() always gives CPU tensors a gloo backend
        _CONTROL.append(None if cpu_ok else dist.new_group(backend="gloo"))
    return _CONTROL[0]


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def start() -> Context:
    """Join the process group torchrun set up (environment variables); a no-op for a single process."""
    if not launched_by_torchrun():
        return Context()
    if not dist.is_initialized():
        backend = "cpu:gloo,cuda:nccl" if torch.cuda.is_available() and dist.is_nccl_available() else "gloo"
        dist.init_process_group(backend=backend)
    return Context(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def stop() -> None:
    """Leave the process group. Call before the interpreter exits: gloo can abort in its exit handlers."""
    if dist.is_initialized():
        dist.destroy_process_group()
    _CONTROL.clear()


def exit_process(code: int) -> None:
    """Leave the group and end this torchrun worker at once: gloo can abort ("terminate called without an active
    exception") in the interpreter's exit handlers, turning a finished run into a failed one."""
    stop()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
