"""A run with only a time budget (--max-minutes) plans itself from its own speed.

After its first steps the run knows how long a step takes, so how many steps the budget will give. It then
spaces its sample grids and kept checkpoints over those steps (about PLANNED_GRIDS grids and
PLANNED_CHECKPOINTS checkpoints, where --sample-every / --checkpoint-every were not given) and
the progress bar counts towards the planned step with the time left beside it. The learning-rate decay
(--lr-decay-start) already follows the budget's clock (training/lr_decay.py), and the EMA's warm-up
(training/ema.py) already averages over about the last third of the steps so far, which for a budget of
fewer than ~3/(1-beta) steps is the horizon planned here; the plan line says both.
"""

from __future__ import annotations

from dataclasses import dataclass

from ganforge.config import TrainConfig

PLAN_AFTER_STEPS = 10  # steps timed (after the first, which pays for warm-up) before the plan is made
PLAN_AFTER_FRACTION = 0.02  # ... and at least this share of the budget
PLANNED_GRIDS = 10
PLANNED_CHECKPOINTS = 4


@dataclass(frozen=True)
class Plan:
    steps: int  # the step the budget is expected to end at
    seconds_per_step: float
    sample_every: int
    checkpoint_every: int
    ema_horizon: int | None  # steps the EMA spans at the planned end; None without an EMA

    def line(self, config: TrainConfig) -> str:
        decay = (f"; learning rates fall from {config.lr_decay_start:.0%} of the budget" if
                 config.lr_decay_start is not None else "")
        ema = f"; the EMA spans the last ~{self.ema_horizon:,} steps at the end" if self.ema_horizon else ""
        return (f"time plan: {self.seconds_per_step:.2f} s a step -> about {self.steps:,} steps in the budget; "
                f"samples every {self.sample_every:,}, checkpoints every {self.checkpoint_every:,}{ema}{decay}")


def _round(value: float) -> int:
    """A readable step count near `value` (1, 2 or 5 x a power of ten), at least 1."""
    if value < 1:
        return 1
    scale = 10 ** (len(str(int(value))) - 1)
    return max(1, min((m * scale for m in (1, 2, 5, 10)), key=lambda v: abs(v - value)))


class TimePlanner:
    """Times the first steps of a budgeted run and makes its Plan once (call `observe` after every step)."""

    def __init__(self, config: TrainConfig, budget_seconds: float) -> None:
        self.config = config
        self.budget = budget_seconds
        self.first: tuple[int, float] | None = None  # (step, elapsed) after the first step
        self.plan: Plan | None = None

    def observe(self, step: int, elapsed: float) -> Plan | None:
        """The plan, the one time it is made (at `step`, `elapsed` seconds into the budget); else None."""
        if self.plan is not None:
            return None
        if self.first is None:
            self.first = (step, elapsed)
            return None
        steps, seconds = step - self.first[0], elapsed - self.first[1]
        if steps < PLAN_AFTER_STEPS or elapsed < PLAN_AFTER_FRACTION * self.budget or seconds <= 0:
            return None
        per_step = seconds / steps
        total = step + max(0, int((self.budget - elapsed) / per_step))
        self.plan = Plan(total, per_step, self._cadence("sample_every", total / PLANNED_GRIDS),
                         self._cadence("checkpoint_every", total / PLANNED_CHECKPOINTS), self._ema_horizon(total))
        return self.plan

    def _cadence(self, field: str, planned: float) -> int:
        """The planned spacing, unless the setting was given (by the person, a --config file or a preset)."""
        value = getattr(self.config, field)
        return _round(planned) if value is None else value

    def _ema_horizon(self, total: int) -> int | None:
        beta = self.config.ema_beta
        if not beta:
            return None
        from ganforge.training.ema import ema_beta_at

        return round(1 / (1 - ema_beta_at(total, beta)))
