"""Numerical faults: NaN/inf in losses or weights sends training back to the last good checkpoint.

A diverged GAN never recovers by itself, and a run that keeps going on NaNs wastes hours and then
writes NaN checkpoints. So at every check (each log step, before each checkpoint, at the end) the
loop asks `find_fault`; on a fault it calls `Rollback.roll_back`, which reloads the newest intact
checkpoint (checkpoints are only written after a clean check, so they are finite), lowers every
learning rate, and logs the event to stderr and to metrics.jsonl. After `max_retries` rollbacks
without getting past the point of failure it stops with an error instead of looping forever.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol

import torch
from torch import nn

from ganforge.checkpoint import load_newest_intact
from ganforge.errors import GanforgeError

if TYPE_CHECKING:
    from ganforge.training.run_folder import RunFolder

LR_FACTOR = 0.5  # each rollback halves every learning rate


def find_fault(stats: dict[str, torch.Tensor], modules: Iterable[nn.Module]) -> str | None:
    """None when every statistic, weight and buffer is finite; otherwise what is not (one host sync)."""
    named = list(stats.items())
    for module in modules:
        named += [(f"{type(module).__name__}.{k}", v) for k, v in module.state_dict().items() if v.is_floating_point()]
    if not named:
        return None
    if bool(torch.stack([torch.isfinite(v).all() for _, v in named]).all()):
        return None
    for name, value in named:  # only on the (rare) failure path: say which one
        bad = value[~torch.isfinite(value)]
        if bad.numel():
            return f"{name} is {bad.flatten()[0].item()}"
    return "non-finite values"


class Restorable(Protocol):
    """What a training run offers so a rollback can restore it."""

    step: int

    def restore(self, state: dict[str, Any]) -> None: ...

    def optimizers(self) -> list[torch.optim.Optimizer]: ...


class Rollback:
    def __init__(self, max_retries: int, warn: Callable[[str], None]) -> None:
        self.max_retries = max_retries
        self.warn = warn
        self.retries = 0  # rollbacks since training last got past a failure point
        self.failed_at = -1  # step of the latest failure

    def state_dict(self) -> dict[str, int]:
        return {"retries": self.retries, "failed_at": self.failed_at}

    def load_state_dict(self, state: dict[str, int] | None) -> None:
        if state:
            self.retries, self.failed_at = int(state["retries"]), int(state["failed_at"])

    def roll_back(self, run: Restorable, folder: RunFolder, fault: str) -> int:
        """Restore the newest intact checkpoint in `folder` with lower learning rates; returns its step."""
        at = run.step
        try:
            path, state = load_newest_intact(folder.checkpoints, self.warn)
        except GanforgeError as err:
            raise GanforgeError(f"training diverged at step {at} ({fault}) and there is nothing to roll back "
                                f"to: {err}") from None
        to = int(state["step"])
        failed_at = max(at, self.failed_at)
        retries = 0 if to > self.failed_at else self.retries  # past the last failure: a new incident
        if retries >= self.max_retries:
            raise GanforgeError(f"training diverged at step {at} ({fault}) again after {retries} rollback(s) "
                                f"to step {to} with lower learning rates; try smaller --lr-g/--lr-d, another "
                                f"--loss, or more --nan-retries. The last good checkpoint is {path}")
        lrs = [[group["lr"] for group in opt.param_groups] for opt in run.optimizers()]
        run.restore(state)  # also loads the checkpoint's own rollback counters: set ours after it
        folder.rewind(to)  # the steps after `to` are re-run; their records would be stale
        self.retries, self.failed_at = retries + 1, failed_at
        new_lrs = []
        for opt, old in zip(run.optimizers(), lrs):
            for group, lr in zip(opt.param_groups, old):
                group["lr"] = lr * LR_FACTOR
                new_lrs.append(group["lr"])
        self.warn(f"warning: {fault} at step {at}; rolled back to step {to} ({path.name}) with learning rates "
                  f"x{LR_FACTOR} -> {', '.join(f'{lr:.3g}' for lr in new_lrs)} "
                  f"(rollback {self.retries} of at most {self.max_retries})")
        # an event record, like the training doctor's: report.html and `ganforge serve` list it
        folder.log.write({"step": to, "event": "rollback", "fault": fault, "at_step": at, "checkpoint": path.name,
                           "learning_rates": new_lrs, "retry": self.retries})
        return to
