"""The scores `--metrics` names compute, which way each one improves, and the best value seen so far.

Plain Python (no torch), so settings can validate a score name without loading the evaluation stack."""

from __future__ import annotations

import math
from typing import Any

from ganforge.errors import GanforgeError

# --metrics names -> the scores each one writes (as eval/<score>)
METRIC_GROUPS = {
    "fid": ["fid"],
    "kid": ["kid", "kid_std"],
    "pr": ["precision", "recall", "density", "coverage"],
    "is": ["is", "is_std"],
    "memorisation": ["copies"],
}
HIGHER_IS_BETTER = {"precision", "recall", "density", "coverage", "is"}
SELECTABLE_SCORES = ["fid", "kid", "precision", "recall", "density", "coverage", "is", "copies"]
ALL_SCORES = [score for scores in METRIC_GROUPS.values() for score in scores]


def parse_metrics(text: str | list[str] | tuple[str, ...]) -> list[str]:
    """A comma-separated string or a list -> known --metrics names, once each, in the order given."""
    names = [n.strip() for n in text.split(",")] if isinstance(text, str) else list(text)
    unknown = [n for n in names if n not in METRIC_GROUPS]
    if unknown or not names:
        raise GanforgeError(f"--metrics: unknown {', '.join(unknown) or '(none given)'}; "
                            f"choose from {', '.join(METRIC_GROUPS)}")
    return list(dict.fromkeys(names))


def group_of(score: str) -> str:
    """The --metrics name that computes a score (e.g. recall -> pr)."""
    for group, scores in METRIC_GROUPS.items():
        if score in scores:
            return group
    raise GanforgeError(f"unknown score {score!r}; choose from {', '.join(SELECTABLE_SCORES)}")


def scores_of(record: dict[str, Any]) -> dict[str, float]:
    """A metrics.jsonl evaluation record -> {score name: value} (no provenance, no picture paths)."""
    return {score: record[f"eval/{score}"] for score in ALL_SCORES if f"eval/{score}" in record}


def is_better(score: str, value: float, best: float | None) -> bool:
    if not math.isfinite(value):
        return False
    if best is None:
        return True
    return value > best if score in HIGHER_IS_BETTER else value < best


class BestScore:
    """The best value of one score seen so far, kept in checkpoints so a resumed run still knows it."""

    def __init__(self, score: str) -> None:
        group_of(score)  # validates the name
        self.score, self.value, self.step = score, None, None

    def update(self, value: float, step: int) -> bool:
        if not is_better(self.score, value, self.value):
            return False
        self.value, self.step = value, step
        return True

    def state_dict(self) -> dict[str, Any]:
        return {"score": self.score, "value": self.value, "step": self.step}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("score") == self.score:
            self.value, self.step = state.get("value"), state.get("step")
