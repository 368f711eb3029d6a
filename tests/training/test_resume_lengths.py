"""Resuming says what it does: a complete run does nothing and says how to extend it, a time budget goes on
with what is left of it (or a new one given with --resume), runtime settings may change, and a run that fails
at start leaves no folder behind."""

from __future__ import annotations

import itertools
import json
import os
import signal
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from ganforge import cli
from ganforge.checkpoint import load_checkpoint
from ganforge.config import TrainConfig
from ganforge.config.train_config import saved_settings
from ganforge.errors import GanforgeError
from ganforge.images import save_png
from ganforge.reliability.write_faults import WriteFaults
from ganforge.training.loop import Trainer, train

TINY = ["--data", "digits", "--resolution", "16", "--latent-dim", "8", "--g-width", "8", "--d-width", "8",
        "--batch-size", "8", "--log-every", "2", "--sample-every", "1000", "--checkpoint-every", "2",
        "--sample-count", "4", "--precision", "fp32", "--device", "cpu", "--quiet"]


def _snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_complete_run_says_so_does_nothing_and_extends_with_steps(tmp_path, capsys):
    run = tmp_path / "run"
    assert cli.main(["train", *TINY, "--steps", "4", "--out", str(run)]) == 0
    before = _snapshot(run)
    capsys.readouterr()
    assert cli.main(["train", "--resume", str(run)]) == 0
    out = capsys.readouterr().out
    assert out == (f"{run}: already complete at step 4 (it reached its --steps 4); nothing to do. To train further, "
                   f"give a new length: ganforge train --resume {run} --steps 8\n")
    assert _snapshot(run) == before, "a complete run wrote something"
    assert cli.main(["train", "--resume", str(run), "--steps", "8", "--quiet"]) == 0
    assert "stopped at step 8" in capsys.readouterr().out
    assert load_checkpoint(run)["step"] == 8


def test_a_run_complete_by_epochs_is_extended_with_epochs(tiny_config, tmp_path):
    run = tmp_path / "run"
    epochs = 8 * 3 / 1797  # three steps of the 1,797 built-in digits in batches of 8
    train(replace(tiny_config, total_steps=None, epochs=epochs), run, quiet=True)
    result = train(TrainConfig(), run, resume=True, quiet=True)
    assert result.status == "complete" and result.step == 3
    assert f"(it reached its --epochs {epochs:g})" in result.message
    assert result.message.endswith(f"ganforge train --resume {run} --epochs {2 * epochs:g}")
    assert train(TrainConfig(epochs=2 * epochs), run, resume=True, quiet=True).step == 6


def test_a_new_length_on_resume_replaces_the_saved_ones(tiny_config, tmp_path):
    """--steps on resume lifts a --max-minutes the run had: it trains to the length given, and no other."""
    run = tmp_path / "run"
    train(replace(tiny_config, total_steps=2, max_minutes=60.0), run, quiet=True)
    result = train(TrainConfig(total_steps=4), run, resume=True, quiet=True)
    assert (result.status, result.step) == ("done", 4)
    saved = saved_settings(load_checkpoint(run)["config"])
    assert (saved["total_steps"], saved["epochs"], saved["max_minutes"]) == (4, None, None)


@pytest.fixture
def fake_clock(monkeypatch):
    """Ten seconds pass at every reading of the training clock."""
    readings = itertools.count(0, 10)
    monkeypatch.setattr(Trainer, "clock", staticmethod(lambda: float(next(readings))))


def test_a_resumed_time_budget_goes_on_with_what_is_left(tiny_config, tmp_path, fake_clock, capsys):
    run = tmp_path / "run"
    config = replace(tiny_config, total_steps=None, max_minutes=1.0, checkpoint_every=1000)
    trainer = Trainer(config, run, quiet=True)
    step_fn = trainer.step_fn

    def interrupt_at_step_2(*args, **kwargs):
        stats = step_fn(*args, **kwargs)
        if trainer.step == 1:  # inside the second step
            os.kill(os.getpid(), signal.SIGINT)
        return stats

    trainer.step_fn = interrupt_at_step_2
    stopped = trainer.run()
    assert (stopped.status, stopped.step) == ("interrupted", 2)
    assert load_checkpoint(run)["time_budget"] == {"spent": 30.0, "ends_at": 60.0}  # clock read at 0, 10, 20, 30
    capsys.readouterr()

    resumed = train(TrainConfig(), run, resume=True, quiet=True)  # 30 of the 60 s left: 2 steps, not 5
    assert (resumed.status, resumed.step) == ("time budget", 4)
    assert "training for the 0.5 minutes left of its 1-minute time budget" in capsys.readouterr().err

    complete = train(TrainConfig(), run, resume=True, quiet=True)
    assert complete.status == "complete" and complete.step == 4
    assert "(it reached the end of its 1-minute time budget)" in complete.message
    assert complete.message.endswith(f"ganforge train --resume {run} --max-minutes 1")

    renewed = train(TrainConfig(max_minutes=0.5), run, resume=True, quiet=True)  # a new budget from now
    assert (renewed.status, renewed.step) == ("time budget", 6)
    assert "training for 0.5 minutes from now (the --max-minutes given with --resume)" in capsys.readouterr().err


def test_runtime_settings_may_change_on_resume_and_the_run_continues_exactly(tiny_config, tmp_path, capsys):
    config = replace(tiny_config, total_steps=6, checkpoint_every=3)
    straight = load_checkpoint(train(config, tmp_path / "straight", quiet=True).checkpoint)
    run = tmp_path / "run"
    train(replace(config, total_steps=3), run, quiet=True)
    threads = torch.get_num_threads()
    try:
        assert cli.main(["train", "--resume", str(run), "--steps", "6", "--threads", str(threads), "--log-every",
                         "1", "--sample-every", "5", "--checkpoint-every", "5", "--nan-retries", "1", "--device",
                         "cpu", "--precision", "fp32", "--quiet"]) == 0
    finally:
        torch.set_num_threads(threads)
    resumed = load_checkpoint(run)
    for part in ("G", "D"):
        for key, value in straight[part].items():
            assert torch.equal(value, resumed[part][key]), f"{part}.{key} differs: a runtime setting changed the run"
    saved = json.loads((run / "config.json").read_text())
    assert (saved["schedule"]["log_every"], saved["execution"]["threads"], saved["execution"]["nan_retries"]) == (
        1, threads, 1)
    assert "step-0000005.pt" in {p.name for p in (run / "checkpoints").iterdir()}  # the new cadence applied


def test_threads_alone_is_accepted_on_resume(tmp_path, capsys):
    run = tmp_path / "run"
    assert cli.main(["train", *TINY, "--steps", "2", "--out", str(run)]) == 0
    threads = torch.get_num_threads()
    try:
        assert cli.main(["train", "--resume", str(run), "--threads", "1", "--quiet"]) == 0
    finally:
        torch.set_num_threads(threads)
    assert "already complete at step 2" in capsys.readouterr().out


# --- a run that fails at start ---------------------------------------------------------------------------
def test_a_run_that_fails_at_start_leaves_no_folder(tmp_path, capsys):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.png").write_text("not an image")
    out = tmp_path / "runs" / "cats"
    assert cli.main(["train", "--out", str(out), "--data", str(bad), "--steps", "2", "--quiet"]) == 2
    assert "none of the 1 image files could be read" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists(), "the failed start left folders behind"


def test_out_may_reuse_a_folder_that_holds_no_run(tiny_config, tmp_path):
    out = tmp_path / "run"
    (out / "samples").mkdir(parents=True)  # left by an older version, or made by hand
    (out / "notes").mkdir()
    assert train(replace(tiny_config, total_steps=2), out, quiet=True).step == 2
    with pytest.raises(GanforgeError, match="already holds files; resume it with --resume"):
        train(replace(tiny_config, total_steps=2), out, quiet=True)
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(GanforgeError, match="is a file; --out takes a folder"):
        train(tiny_config, afile, quiet=True)


def test_a_start_that_cannot_write_removes_the_folders_it_made(tiny_config, tmp_path):
    out = tmp_path / "new" / "run"
    refused = pytest.raises(GanforgeError, match="could not write config.json and metrics.jsonl: the file system "
                                                 "is read-only")
    with WriteFaults(tmp_path, "read-only", armed=True), refused:
        train(tiny_config, out, quiet=True)
    assert not (tmp_path / "new").exists()
    kept = tmp_path / "mine"
    kept.mkdir()
    save_png(kept / "photo.png", np.zeros((4, 4, 1), np.uint8))
    with WriteFaults(kept, "full", armed=True), pytest.raises(GanforgeError, match="the disk is full"):
        train(tiny_config, kept / "run", quiet=True)
    assert sorted(p.name for p in kept.iterdir()) == ["photo.png"]  # only what the failed start made is gone
