"""The loop's periodic work as a list of scheduled actions (log, sample grid, evaluation, checkpoint, ...).

Each action runs after every N-th step, and may also run before the first step of a new run and once
when training stops; the loop only asks which are due.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field


@dataclass
class Scheduled:
    name: str
    every: int  # run after every `every`-th step; 0: not periodically
    action: Callable[[int], object]  # called with the step just finished
    at_start: bool = False  # also at step 0, before the first step
    at_end: bool = False  # also once when training stops, unless it already ran at that step
    checked: bool = False  # only with finite losses and weights (the loop checks first and rolls back on a fault)
    last: int | None = field(default=None, init=False)  # the step it last ran at

    def due(self, step: int) -> bool:
        return self.every > 0 and step % self.every == 0


class Schedule:
    def __init__(self, actions: Iterable[Scheduled]) -> None:
        self.actions = list(actions)

    def due(self, step: int) -> list[Scheduled]:
        return [a for a in self.actions if a.due(step)]

    def run(self, actions: Iterable[Scheduled], step: int) -> None:
        for action in actions:
            action.action(step)
            action.last = step

    def start(self, step: int) -> None:
        self.run([a for a in self.actions if a.at_start], step)

    def end(self, step: int) -> None:
        self.run([a for a in self.actions if a.at_end and a.last != step], step)

    def forget(self) -> None:
        """After a rollback the step goes back: what ran at a step then says nothing about the state now."""
        for action in self.actions:
            action.last = None
