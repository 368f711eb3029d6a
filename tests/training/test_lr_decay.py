"""--lr-decay-start: the learning rates fall linearly over the end of the run, and a resume continues exactly."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest
import torch

from ganforge.checkpoint import load_checkpoint
from ganforge.config import DEFAULT_STEPS, TrainConfig
from ganforge.config.train_config import saved_settings
from ganforge.training.loop import train
from ganforge.training.lr_decay import BUDGET_FLOOR, apply_lr_decay, budget_decay_factor, decay_factor
from ganforge.training.run import planned_steps


def test_factor_is_flat_then_linear_and_never_zero() -> None:
    factors = [decay_factor(s, 10, 0.6) for s in range(10)]
    assert factors[:7] == [1.0] * 7  # steps 0-6: full rate (decay starts after step 6 = 0.6 x 10)
    assert factors[7:] == pytest.approx([3 / 4, 2 / 4, 1 / 4])  # the last update (step 9) at 1/4, not 0


def test_applying_step_by_step_gives_the_factor_and_keeps_other_changes() -> None:
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    for step in range(10):
        apply_lr_decay([opt], step, 10, 0.6)
        if step == 8:
            opt.param_groups[0]["lr"] *= 0.5  # e.g. the NaN roll-back halves the rate: the decay keeps the half
        expected = 0.1 * decay_factor(step, 10, 0.6) * (0.5 if step >= 8 else 1.0)
        assert opt.param_groups[0]["lr"] == pytest.approx(expected)


def test_off_without_a_start() -> None:
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    apply_lr_decay([opt], 9, 10, None)
    assert opt.param_groups[0]["lr"] == 0.1


def test_a_run_given_no_length_decays_over_the_default_steps(tiny_config: TrainConfig) -> None:
    config = dataclasses.replace(tiny_config, total_steps=None, epochs=None, max_minutes=None, lr_decay_start=0.5)
    assert planned_steps(config.validate(), dataset_size=100) == DEFAULT_STEPS


def test_budget_factor_is_flat_then_linear_down_to_the_floor() -> None:
    assert [budget_decay_factor(p, 0.5) for p in (0.0, 0.5, 0.75)] == [1.0, 1.0, pytest.approx(0.5)]
    assert budget_decay_factor(1.0, 0.5) == BUDGET_FLOOR and budget_decay_factor(2.0, 0.5) == BUDGET_FLOOR


def test_a_time_budgeted_run_decays_over_its_budget(tiny_config: TrainConfig, tmp_path: Path) -> None:
    """With only --max-minutes the rates follow the share of the budget spent (a stand-in clock: 1 s a step)."""
    from ganforge.training.loop import Trainer

    config = dataclasses.replace(tiny_config, total_steps=None, epochs=None, max_minutes=0.1, lr_decay_start=0.5,
                                 sample_every=100, checkpoint_every=100)
    trainer = Trainer(config, tmp_path / "run", quiet=True)
    seconds = iter(range(10**6))
    trainer.clock = lambda: float(next(seconds))  # read at the start and once before each step: 1 s a step
    step_fn, lrs = trainer.step_fn, []

    def recording_step(*args, **kwargs):
        lrs.append(trainer.opt_G.param_groups[0]["lr"])
        return step_fn(*args, **kwargs)

    trainer.step_fn = recording_step
    result = trainer.run()
    assert result.status == "time budget" and result.step == 5  # the 6th reading ends the 6 s budget
    factors = [budget_decay_factor(k / 6, 0.5) for k in range(1, 6)]  # step k runs after k of the 6 s
    assert lrs == pytest.approx([config.lr_g * f for f in factors])
    assert lrs[-1] < lrs[2] == config.lr_g  # flat for the first half, then falling


def test_run_decays_and_resumes_exactly(tiny_config: TrainConfig, tmp_path: Path) -> None:
    config = dataclasses.replace(tiny_config, total_steps=6, lr_decay_start=0.5, checkpoint_every=3,
                                 sample_every=100)
    train(config, tmp_path / "whole", quiet=True)
    state = load_checkpoint(tmp_path / "whole" / "checkpoints" / "latest.pt")
    lr_g = state["opt_G"]["param_groups"][0]["lr"]
    assert lr_g == pytest.approx(config.lr_g * decay_factor(5, 6, 0.5))  # the rate of the last update (1/3)

    assert saved_settings((tmp_path / "whole" / "config.json").read_text())["lr_decay_start"] == 0.5
    # as if the run had been killed right after its step-3 checkpoint, mid-decay schedule
    shutil.copytree(tmp_path / "whole", tmp_path / "split")
    checkpoints = tmp_path / "split" / "checkpoints"
    shutil.copy(checkpoints / "step-0000003.pt", checkpoints / "latest.pt")
    shutil.copy(checkpoints / "step-0000003.pt.sha256", checkpoints / "latest.pt.sha256")  # else latest is skipped
    assert train(config, tmp_path / "split", resume=True, quiet=True).status == "done"  # steps 4 to 6 re-run
    resumed = load_checkpoint(tmp_path / "split" / "checkpoints" / "latest.pt")
    for key, value in state["G"].items():
        assert torch.equal(value, resumed["G"][key]), key
