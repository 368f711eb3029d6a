"""The loop's periodic work as scheduled actions (training/schedule.py)."""

from __future__ import annotations

from dataclasses import replace

from ganforge.training.loop import Trainer
from ganforge.training.schedule import Schedule, Scheduled


def _drive(schedule: Schedule, steps: int) -> None:
    """What the loop does: the start, the due actions after each step, the end."""
    schedule.start(0)
    for step in range(1, steps + 1):
        schedule.run(schedule.due(step), step)
    schedule.end(steps)


def test_an_action_every_3_steps_runs_at_3_6_9_and_once_at_the_end() -> None:
    for steps, expected in ((10, [3, 6, 9, 10]), (9, [3, 6, 9])):
        seen: list[int] = []
        _drive(Schedule([Scheduled("probe", 3, seen.append, at_end=True)]), steps)
        assert seen == expected


def test_start_end_only_and_order() -> None:
    seen: list[tuple[str, int]] = []
    schedule = Schedule([Scheduled("a", 2, lambda s: seen.append(("a", s)), at_start=True),
                         Scheduled("b", 2, lambda s: seen.append(("b", s))),
                         Scheduled("end", 0, lambda s: seen.append(("end", s)), at_end=True)])
    _drive(schedule, 4)
    assert seen == [("a", 0), ("a", 2), ("b", 2), ("a", 4), ("b", 4), ("end", 4)]


def test_after_a_rollback_the_end_runs_again() -> None:
    seen: list[int] = []
    schedule = Schedule([Scheduled("checkpoint", 2, seen.append, at_end=True)])
    schedule.run(schedule.due(4), 4)
    schedule.forget()  # back to step 4 with other learning rates: the end must save them
    schedule.end(4)
    assert seen == [4, 4]


def test_the_training_loop_runs_its_scheduled_actions(tiny_config, tmp_path) -> None:
    trainer = Trainer(replace(tiny_config, total_steps=10, log_every=5, sample_every=100, checkpoint_every=100),
                      tmp_path / "run", quiet=True)
    assert [a.name for a in trainer.schedule.actions] == ["log", "samples", "plot", "checkpoint", "finish"]
    seen: list[int] = []
    trainer.schedule.actions.append(Scheduled("probe", 3, seen.append, at_end=True))
    trainer.run()
    assert seen == [3, 6, 9, 10]
    assert sorted(p.name for p in (tmp_path / "run" / "samples").iterdir()) == ["0000000.png", "0000010.png"]
