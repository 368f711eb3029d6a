"""Linear learning-rate decay over the end of a run.

pix2pix's schedule: constant rates, then both falling to near zero, so the last updates are small.
(On the digits recipe it did not help: docs/results.md.) The schedule
multiplies each rate by f(step) / f(step - 1), so it composes with what else changes the rates
(the NaN roll-back halves them, --balance adaptive steers D's) instead of overwriting them.

A run with only a time budget (--max-minutes) decays over that budget instead: linear decay to near
zero at the end of the budget did best among the schedules Li et al. 2020 ("Budgeted Training")
compared under fixed budgets. Each invocation decays over its own budget, from the rates it starts with.
"""

from __future__ import annotations

import torch


def decay_factor(step: int, total_steps: int, start: float) -> float:
    """f(step): 1 until start x total_steps, then linear down to 1 / (decay length) at the last step."""
    first = int(start * total_steps)
    if step <= first:
        return 1.0
    return max(total_steps - step, 1) / max(total_steps - first, 1)


def apply_lr_decay(optimizers: list[torch.optim.Optimizer], step: int, total_steps: int | None,
                   start: float | None) -> None:
    """Before update number `step` (0-based): move every rate from f(step - 1) to f(step)."""
    if start is None or not total_steps or step == 0:
        return
    _scale_rates(optimizers, decay_factor(step, total_steps, start) / decay_factor(step - 1, total_steps, start))


def _scale_rates(optimizers: list[torch.optim.Optimizer], ratio: float) -> None:
    """Multiply every rate by `ratio` (keeping whatever else has changed them)."""
    if ratio != 1.0:
        for opt in optimizers:
            for group in opt.param_groups:
                group["lr"] *= ratio


BUDGET_FLOOR = 0.01  # the rate factor at the very end of a time budget (never 0: the last steps still learn)


def budget_decay_factor(progress: float, start: float) -> float:
    """f(fraction of the time budget spent): 1 until `start`, then linear down to BUDGET_FLOOR at the end."""
    if progress <= start:
        return 1.0
    return max(1.0 - (progress - start) / (1.0 - start), BUDGET_FLOOR)


class BudgetDecay:
    """The decay for runs limited by time alone: call it with the fraction of the budget spent, before each step."""

    def __init__(self, start: float) -> None:
        self.start = start
        self.applied = 1.0  # the factor the rates carry now (from this invocation's decay)

    def __call__(self, optimizers: list[torch.optim.Optimizer], progress: float) -> None:
        factor = budget_decay_factor(progress, self.start)
        _scale_rates(optimizers, factor / self.applied)
        self.applied = factor
