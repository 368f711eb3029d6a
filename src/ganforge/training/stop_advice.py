"""When to stop: the doctor's reading of the scores `--eval-every` writes.

"Is it working? When do I stop?" A score that has not improved for PATIENCE evaluations has stopped improving:
the doctor says so once, with the step of the best checkpoint (kept as checkpoints/best.pt), and says it again
only after a new best and a new plateau. With the folder's own KID (`--eval-extractor data`) it also knows how far
a blurred copy of the real images is, and says when G's samples stay farther than that: not yet recognisable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ganforge.metrics.scores import is_better
from ganforge.training.events import Event

PATIENCE = 5  # evaluations without a new best before the advice
FAR_WARMUP_STEPS = 1000  # G draws blobs at first; judge "far from the data" only after this
FAR_PATIENCE = 3  # consecutive evaluations farther than the blur yardstick


@dataclass
class StopAdvice:
    score: str  # e.g. "kid"
    patience: int = PATIENCE
    blurred: float | None = None  # the score of real images blurred by 2 px, when known (own features)
    best: float | None = None
    best_step: int | None = None
    since_best: int = 0
    far_streak: int = 0
    told: set[str] = field(default_factory=set)  # advice given since the last new best

    def observe(self, step: int, value: float) -> list[Event]:
        """The advice, if any, after one evaluation of the score."""
        if is_better(self.score, value, self.best):
            self.best, self.best_step, self.since_best = value, step, 0
            self.told.discard("plateau")
        else:
            self.since_best += 1
        events = []
        name = self.score.upper() if self.score in ("fid", "kid", "is") else self.score
        if self.since_best >= self.patience and "plateau" not in self.told:
            self.told.add("plateau")
            events.append(Event(step, "doctor/plateau", (
                f"{name} has not improved for {self.since_best} evaluations: the best checkpoint is step "
                f"{self.best_step} ({name} {self.best:.4g}, now {value:.4g}), kept as checkpoints/best.pt. Training "
                "further is unlikely to help this recipe: stop here and use it (ganforge sample RUN/checkpoints/"
                "best.pt; serve and export take it too).")))
        far = self.blurred is not None and step >= FAR_WARMUP_STEPS and value > self.blurred
        self.far_streak = self.far_streak + 1 if far else 0
        if self.far_streak >= FAR_PATIENCE and "far" not in self.told:
            self.told.add("far")
            events.append(Event(step, "doctor/far_from_data", (
                f"G's samples are still farther from the real images than the real images blurred by 2 px are "
                f"({name} {value:.4g} vs {self.blurred:.4g}, in the folder's own features) after {step} steps: "
                "they are not yet recognisable pictures. If the score is still falling, train longer; if not, "
                "try --preset recommended (hinge loss, spectral norm, an EMA of G), --augment ada for a folder "
                "of a few hundred images, or a lower --resolution to learn the shapes first.")))
        return events

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_step": self.best_step, "since_best": self.since_best,
                "far_streak": self.far_streak, "told": sorted(self.told)}

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        if state:
            self.best, self.best_step = state.get("best"), state.get("best_step")
            self.since_best, self.far_streak = int(state.get("since_best", 0)), int(state.get("far_streak", 0))
            self.told = set(state.get("told", []))
