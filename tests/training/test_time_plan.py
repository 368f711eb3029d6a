"""A run with only --max-minutes plans its cadence from the speed of its first steps (training/time_plan.py)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from ganforge.config import TrainConfig, resolve_config
from ganforge.training.loop import Trainer
from ganforge.training.time_plan import PLAN_AFTER_STEPS, TimePlanner, _round


def test_the_plan_is_made_once_from_the_steps_after_the_first():
    config = resolve_config({"data": "digits", "max_minutes": 10, "ema_beta": 0.999})
    planner = TimePlanner(config, budget_seconds=600)
    assert planner.observe(1, 5.0) is None  # the first step (warm-up) only starts the clock
    for step in range(2, 1 + PLAN_AFTER_STEPS):
        assert planner.observe(step, 5.0 + (step - 1) * 0.75) is None
    plan = planner.observe(1 + PLAN_AFTER_STEPS, 5.0 + PLAN_AFTER_STEPS * 0.75)  # 0.75 s a step, 12.5 s in
    assert plan is not None and plan.seconds_per_step == 0.75
    assert plan.steps == 11 + int((600 - 12.5) / 0.75)  # 794 steps in the budget
    assert (plan.sample_every, plan.checkpoint_every) == (100, 200)  # ~10 grids, ~4 kept checkpoints, rounded
    assert 200 < plan.ema_horizon < 350  # the warm-up's average: about the last third of the run
    assert planner.observe(12, 20.0) is None  # made once
    assert "about 794 steps" in plan.line(config) and "samples every 100" in plan.line(config)


def test_a_short_budget_waits_for_its_share_and_settings_given_are_kept():
    config = resolve_config({"data": "digits", "max_minutes": 100, "sample_every": 7})
    planner = TimePlanner(config, budget_seconds=6000)
    planner.observe(1, 1.0)
    assert planner.observe(20, 20.0) is None  # 2% of the budget (120 s) not spent yet
    plan = planner.observe(101, 121.0)
    assert plan is not None and plan.sample_every == 7 and plan.ema_horizon is None  # given; no EMA
    assert [_round(v) for v in (0.3, 3, 7, 14, 30, 80, 260)] == [1, 2, 5, 10, 20, 100, 200]


def test_a_setting_given_at_its_usual_value_is_kept_too():
    """--checkpoint-every 1000 (the spacing a run without a budget uses) is still the person's choice."""
    planner = TimePlanner(resolve_config({"data": "digits", "max_minutes": 10, "checkpoint_every": 1000}), 600)
    planner.observe(1, 1.0)
    plan = planner.observe(101, 121.0)  # 1.2 s a step: ~500 steps, so the plan alone would say 50 / 100
    assert plan is not None and (plan.sample_every, plan.checkpoint_every) == (50, 1000)


def test_a_budgeted_run_on_a_fake_clock_follows_its_plan(tmp_path, capsys):
    data = tmp_path / "pics"
    data.mkdir()
    rng = np.random.default_rng(0)
    for i in range(8):
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(data / f"{i}.png")
    config = TrainConfig(data=str(data), resolution=16, g_width=4, d_width=4, latent_dim=8, batch_size=4,
                         max_minutes=0.05, preset="plain", threads=1)
    trainer = Trainer(config, tmp_path / "run", quiet=False)
    ticks = iter(np.arange(0, 100, 0.1))  # every reading of the clock is 0.1 s later: one a step
    trainer.clock = lambda: float(next(ticks))
    result = trainer.run()
    assert result.status == "time budget"
    assert 25 <= result.step <= 31  # 3 s at 0.1 s a step
    assert (trainer.config.sample_every, trainer.config.checkpoint_every) == (2, 5)  # not given: planned
    grids = list((tmp_path / "run" / "samples").glob("*.png"))
    assert len(grids) >= 10
    kept = list((tmp_path / "run" / "checkpoints").glob("step-*.pt"))
    assert 4 <= len(kept) <= 7
    err = capsys.readouterr().err
    assert "time plan: 0.10 s a step -> about 2" in err
    assert "s left" in err  # off a terminal, the progress lines carry the budget's time left
