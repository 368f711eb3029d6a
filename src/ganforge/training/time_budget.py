"""A run's time budget (--max-minutes) across resumes: how much training time it has spent, and when it ends.

A checkpoint records both, so a resumed run goes on with what is left of its budget instead of starting a new
full one; a --max-minutes given with --resume is a new budget from now. Steps are whole-run counts already.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ganforge.config import TrainConfig


@dataclass
class TimeBudget:
    spent: float = 0.0  # seconds of training, over every invocation of the run
    ends_at: float | None = None  # the `spent` at which the budget is used up; None: no time budget
    minutes: float | None = None  # the budget as given, for messages
    origin: str = "new"  # "new" run, "left" of a saved budget, "renewed" on resume, "unrecorded" spent time

    @classmethod
    def for_run(cls, config: TrainConfig, saved: dict[str, Any] | None, renewed: bool = False) -> TimeBudget:
        """The budget of a new run (saved None) or of a resumed one: `saved` is the checkpoint's state (or the
        config-only state of a run stopped before its first checkpoint); renewed: --max-minutes given on resume."""
        record = (saved or {}).get("time_budget") or {}
        spent = float(record.get("spent", 0.0))
        minutes = config.max_minutes
        if not minutes:
            return cls(spent)
        if saved is None or "G" not in saved:  # a new run, or one that never trained
            return cls(spent, spent + minutes * 60, minutes, "new")
        if renewed:
            return cls(spent, spent + minutes * 60, minutes, "renewed")
        if record.get("ends_at") is not None:
            return cls(spent, float(record["ends_at"]), minutes, "left")
        return cls(spent, spent + minutes * 60, minutes, "unrecorded")  # a checkpoint from before this record

    def left(self) -> float | None:
        """Seconds of the budget still to train; None without a budget."""
        return None if self.ends_at is None else max(0.0, self.ends_at - self.spent)

    def describe(self) -> str:
        """What the budget of this invocation is, e.g. 'for the 12.5 minutes left of its 60-minute time budget'."""
        left = (self.left() or 0.0) / 60
        if self.origin == "left":
            return f"for the {left:.1f} minutes left of its {self.minutes:g}-minute time budget"
        if self.origin == "renewed":
            return f"for {self.minutes:g} minutes from now (the --max-minutes given with --resume)"
        if self.origin == "unrecorded":
            return (f"for {self.minutes:g} minutes (its checkpoint does not record the time already spent, so the "
                    "whole --max-minutes budget)")
        return f"for {self.minutes:g} minutes"

    def state_dict(self) -> dict[str, Any]:
        return {"spent": self.spent, "ends_at": self.ends_at}
