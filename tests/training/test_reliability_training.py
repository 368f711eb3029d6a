"""Training under faults: Ctrl-C/SIGTERM, NaN/inf divergence, out-of-memory, a kill before the first checkpoint."""

from __future__ import annotations

import importlib.util
import os
import signal
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from ganforge import cli
from ganforge.checkpoint import load_checkpoint
from ganforge.config import TrainConfig
from ganforge.errors import GanforgeError
from ganforge.recipes.gan import GANStep
from ganforge.training.loop import Trainer, train
from ganforge.training.metrics_log import read_metrics

pytestmark = pytest.mark.reliability


@pytest.fixture
def config(tiny_config: TrainConfig) -> TrainConfig:
    """tiny_config without loss plots and sample grids in the middle (they only cost time here)."""
    return replace(tiny_config, sample_every=1000)


def _on_call(trainer: Trainer, calls: set[int] | None, action) -> list[int]:
    """Run action(trainer) right after the listed step_fn calls (1-based; None: every call)."""
    step_fn, seen = trainer.step_fn, [0]

    def wrapped(*args, **kwargs):
        stats = step_fn(*args, **kwargs)
        seen[0] += 1
        if calls is None or seen[0] in calls:
            action(trainer)
        return stats

    trainer.step_fn = wrapped
    return seen


def _weights(state: dict) -> dict[str, torch.Tensor]:
    return {f"{n}.{k}": v for n in ("G", "D") for k, v in state[n].items()}


def test_sigint_and_sigterm_finish_the_step_save_and_resume_exactly(config, tmp_path: Path, capsys) -> None:
    cfg = replace(config, total_steps=6)
    expected = load_checkpoint(train(cfg, tmp_path / "reference", quiet=True).checkpoint)
    run = tmp_path / "run"
    # what was installed before (a job started in the background of a script inherits SIGINT ignored)
    before = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    for signum, resume, stop_at in ((signal.SIGINT, False, 3), (signal.SIGTERM, True, 5)):
        trainer = Trainer(cfg if not resume else TrainConfig(), run, resume=resume, quiet=True)
        # the signal arrives in the middle of a step; that step must complete before the loop stops
        _on_call(trainer, {stop_at - trainer.step}, lambda t, s=signum: os.kill(os.getpid(), s))
        stopped = trainer.run()
        assert (stopped.status, stopped.step) == ("interrupted", stop_at)
        assert load_checkpoint(stopped.checkpoint)["step"] == stop_at
        assert f"{signum.name}: stopping after this step and saving a checkpoint" in capsys.readouterr().err
        assert signal.getsignal(signum) == before[signum]  # handlers restored
    resumed = train(TrainConfig(), run, resume=True, quiet=True)
    assert resumed.step == 6
    final = load_checkpoint(resumed.checkpoint)
    for key, value in _weights(expected).items():
        assert torch.equal(_weights(final)[key], value), f"{key} differs from the uninterrupted run"


def test_second_signal_stops_at_once_without_overwriting_the_checkpoint(config, tmp_path: Path) -> None:
    trainer = Trainer(replace(config, total_steps=6), tmp_path / "run", quiet=True)

    def twice(t: Trainer) -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGTERM)

    _on_call(trainer, {3}, twice)
    with pytest.raises(KeyboardInterrupt):
        trainer.run()
    assert load_checkpoint(tmp_path / "run" / "checkpoints" / "latest.pt")["step"] == 2  # the last periodic one


def _poison_D(trainer: Trainer) -> None:
    with torch.no_grad():
        next(trainer.D.parameters()).fill_(float("nan"))


def test_nan_rolls_back_to_the_last_good_checkpoint_with_a_lower_lr(config, tmp_path: Path, capsys) -> None:
    tensorboard = importlib.util.find_spec("tensorboard") is not None  # an optional extra; .[test] has it
    cfg = replace(config, total_steps=8, tensorboard=tensorboard)
    trainer = Trainer(cfg, tmp_path / "run", quiet=True)
    _on_call(trainer, {5}, _poison_D)  # D's weights become NaN after step 5, once
    result = trainer.run()
    assert (result.status, result.step) == ("done", 8)
    assert "rolled back to step 4" in capsys.readouterr().err
    records = read_metrics(tmp_path / "run" / "metrics.jsonl")
    events = [r for r in records if "event" in r]
    assert [(e["event"], e["at_step"], e["step"]) for e in events] == [("rollback", 6, 4)]
    assert "is nan" in events[0]["fault"] and events[0]["learning_rates"] == [cfg.lr_g / 2, cfg.lr_d / 2]
    state = load_checkpoint(result.checkpoint)
    assert all(torch.isfinite(v).all() for v in _weights(state).values())
    assert [g["lr"] for g in state["opt_G"]["param_groups"]] == [cfg.lr_g / 2]  # kept for a later resume
    assert [g["lr"] for g in state["opt_D"]["param_groups"]] == [cfg.lr_d / 2]
    logs = [r for r in records if "event" not in r]
    assert [r["step"] for r in logs] == [2, 4, 6, 8]  # the poisoned window was dropped and re-run
    assert all(r["loss/D"] is not None and r["loss/G"] is not None for r in logs)
    if tensorboard:  # rewound like metrics.jsonl: step 6 once, from the re-run
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

        events = EventAccumulator(str(tmp_path / "run" / "tensorboard"), size_guidance={"scalars": 0}).Reload()
        assert [e.step for e in events.Scalars("loss/D")] == [2, 4, 6, 8]


def test_persistent_nan_stops_after_bounded_retries(config, tmp_path: Path) -> None:
    cfg = replace(config, total_steps=8, nan_retries=2, log_every=1)
    trainer = Trainer(cfg, tmp_path / "run", quiet=True)
    _on_call(trainer, None, _poison_D)  # diverges on every step
    with pytest.raises(GanforgeError) as info:
        trainer.run()
    message = str(info.value)
    assert "diverged" in message and "after 2 rollback(s)" in message and "--lr-g" in message
    records = read_metrics(tmp_path / "run" / "metrics.jsonl")
    events = [r for r in records if "event" in r]
    assert [e["learning_rates"][0] for e in events] == [cfg.lr_g / 2, cfg.lr_g / 4]
    latest = load_checkpoint(tmp_path / "run" / "checkpoints" / "latest.pt")
    assert all(torch.isfinite(v).all() for v in _weights(latest).values())  # no NaN ever reached a checkpoint
    assert all(r["loss/D"] is not None for r in records if "event" not in r)


def test_inf_loss_is_caught_too(config, tmp_path: Path, monkeypatch) -> None:
    real_call, calls = GANStep.__call__, [0]

    def inf_once(self, *args, **kwargs):
        stats = real_call(self, *args, **kwargs)
        calls[0] += 1
        if calls[0] == 2:
            stats["loss/G"] = torch.tensor(float("inf"))
        return stats

    monkeypatch.setattr(GANStep, "__call__", inf_once)
    result = train(replace(config, nan_retries=1, total_steps=2), tmp_path / "run", quiet=True)
    assert result.step == 2
    events = [r for r in read_metrics(tmp_path / "run" / "metrics.jsonl") if "event" in r]
    assert [e["fault"] for e in events] == ["loss/G is inf"]


def test_out_of_memory_suggests_a_smaller_batch(config, tmp_path: Path, monkeypatch, capsys) -> None:
    real_call, calls = GANStep.__call__, [0]

    def oom_at_third(self, *args, **kwargs):
        calls[0] += 1
        if calls[0] == 3:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 7.79 GiB total)")
        return real_call(self, *args, **kwargs)

    monkeypatch.setattr(GANStep, "__call__", oom_at_third)
    out = tmp_path / "run"
    argv = ["train", "--out", str(out), "--data", "digits", "--resolution", "16", "--channels", "1",
            "--latent-dim", "8", "--g-width", "8", "--d-width", "8", "--batch-size", "8", "--steps", "4",
            "--checkpoint-every", "2", "--sample-every", "1000", "--device", "cpu", "--precision", "fp32", "--quiet"]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "out of CPU memory at step 2 with batch size 8; try --batch-size 4" in err
    assert load_checkpoint(out / "checkpoints" / "latest.pt")["step"] == 2  # kept, not overwritten mid-step


def test_run_killed_before_its_first_checkpoint_restarts_from_zero(config, tmp_path: Path, capsys) -> None:
    run = tmp_path / "run"
    Trainer(config, run, quiet=True)  # set up (config.json written) but killed before run() saved anything
    assert not any((run / "checkpoints").iterdir())
    capsys.readouterr()
    result = train(TrainConfig(), run, resume=True, quiet=True)
    assert "starting again from step 0 with its config.json" in capsys.readouterr().err
    assert result.step == config.total_steps
    assert load_checkpoint(result.checkpoint)["step"] == config.total_steps


def test_run_killed_while_starting_can_be_started_again(config, tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)  # all that exists when a kill lands during start-up
    (run / "samples").mkdir()
    with pytest.raises(GanforgeError, match=f"stopped while starting; start it again with --out {run}"):
        train(TrainConfig(), run, resume=True, quiet=True)
    assert train(config, run, quiet=True).step == config.total_steps
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("a user's file")
    with pytest.raises(GanforgeError, match="already holds files"):
        train(config, tmp_path / "mine", quiet=True)

