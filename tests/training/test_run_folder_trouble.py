"""A run folder in trouble mid-run: a full disk, a read-only file system, the folder deleted, the data changed.
Each stops with one clear line (or, for the data, goes on with one warning) and loses nothing already saved."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from ganforge import cli
from ganforge.checkpoint import load_checkpoint
from ganforge.config import TrainConfig
from ganforge.errors import GanforgeError
from ganforge.images import save_png
from ganforge.reliability.write_faults import WriteFaults
from ganforge.training.loop import Trainer, train
from ganforge.training.metrics_log import read_metrics

pytestmark = pytest.mark.reliability


@pytest.fixture
def config(tiny_config: TrainConfig) -> TrainConfig:
    """8 steps, checkpoints every 2, sample grids and logs every step: a write at every step to fail."""
    return replace(tiny_config, total_steps=8, log_every=1, sample_every=1, checkpoint_every=2)


def _after_step(trainer: Trainer, step: int, action) -> None:
    """Run action(trainer) inside the step that ends at `step` (before that step's writes)."""
    step_fn = trainer.step_fn

    def wrapped(*args, **kwargs):
        stats = step_fn(*args, **kwargs)
        if trainer.step + 1 == step:
            action(trainer)
        return stats

    trainer.step_fn = wrapped


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(("kind", "reason"), [("full", "the disk is full"),
                                              ("read-only", "the file system is read-only")])
def test_a_full_or_read_only_disk_stops_with_one_line_and_keeps_what_was_saved(config, tmp_path, kind, reason):
    run = tmp_path / "run"
    trainer = Trainer(config, run, quiet=True)
    with WriteFaults(run, kind) as faults:
        saved: dict[str, bytes] = {}

        def fail_from_now(t: Trainer) -> None:
            saved.update(_files(run))
            faults.armed = True

        _after_step(trainer, 5, fail_from_now)  # latest.pt holds step 4
        with pytest.raises(GanforgeError) as info:
            trainer.run()
    message = str(info.value)
    assert "\n" not in message and reason in message and "stopped at step 5" in message
    assert f"{run / 'checkpoints' / 'latest.pt'} (step 4) is kept" in message
    assert f"ganforge train --resume {run}" in message
    assert faults.refused, "no write was attempted under the folder"
    after = _files(run)
    assert after == saved, "a file saved before the fault changed"  # nothing lost, no temp file left
    resumed = train(TrainConfig(), run, resume=True, quiet=True)  # space freed / folder writable again
    assert (resumed.status, resumed.step) == ("done", 8)
    assert [r["step"] for r in read_metrics(run / "metrics.jsonl") if "event" not in r] == list(range(1, 9))


def test_a_fault_outside_the_checkpoint_saves_progress_when_checkpoints_still_take_it(config, tmp_path):
    """Only samples/ is read-only: the step reached is saved before stopping."""
    run = tmp_path / "run"
    trainer = Trainer(config, run, quiet=True)
    with WriteFaults(run / "samples", "read-only") as faults:
        _after_step(trainer, 5, lambda t: setattr(faults, "armed", True))
        with pytest.raises(GanforgeError, match="could not write the sample grid: the file system is read-only; "
                                                "stopped at step 5, saved in"):
            trainer.run()
    assert load_checkpoint(run)["step"] == 5


def test_a_run_folder_deleted_mid_run_stops_and_is_not_made_again(config, tmp_path, capsys):
    run = tmp_path / "run"
    trainer = Trainer(config, run, quiet=True)
    _after_step(trainer, 3, lambda t: shutil.rmtree(run))
    with pytest.raises(GanforgeError) as info:
        trainer.run()
    assert "the run folder was deleted while training; stopped at step 3" in str(info.value)
    assert not run.exists(), "the deleted folder was written again"
    trainer = Trainer(config, tmp_path / "second", quiet=True)  # the same from the command line: exit 2
    _after_step(trainer, 3, lambda t: shutil.rmtree(tmp_path / "second" / "samples"))
    with pytest.raises(GanforgeError, match="could not write the sample grid: its samples/ folder was deleted"):
        trainer.run()
    assert not (tmp_path / "second" / "samples").exists()


def test_a_run_folder_deleted_mid_run_from_the_command_line_is_one_line(tmp_path, capsys, monkeypatch):
    run = tmp_path / "run"
    real_init = Trainer.__init__

    def init_then_delete_at_step_2(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        _after_step(self, 2, lambda t: shutil.rmtree(run))

    monkeypatch.setattr(Trainer, "__init__", init_then_delete_at_step_2)
    argv = ["train", "--out", str(run), "--data", "digits", "--resolution", "16", "--latent-dim", "8",
            "--g-width", "8", "--d-width", "8", "--batch-size", "8", "--steps", "4", "--log-every", "1",
            "--device", "cpu", "--precision", "fp32", "--quiet"]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "the run folder was deleted while training; stopped at step 2" in err


def _digit_folder(folder: Path, count: int, classes: int = 1) -> list[Path]:
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        path = folder / (f"class{i % classes}" if classes > 1 else "") / f"{i:03d}.png"
        save_png(path, rng.integers(0, 256, (16, 16, 1), dtype=np.uint8))
        paths.append(path)
    return paths


def test_data_files_removed_or_added_mid_run_do_not_stop_it_and_a_resume_says_so(config, tmp_path, capsys):
    data = tmp_path / "images"
    files = _digit_folder(data, 24)
    cfg = replace(config, data=str(data), augment="off")
    trainer = Trainer(cfg, tmp_path / "run", quiet=True)

    def change_data(t: Trainer) -> None:
        for path in files[:5]:
            path.unlink()
        save_png(data / "new.png", np.zeros((16, 16, 1), np.uint8))

    _after_step(trainer, 3, change_data)  # between epochs: 24 images, batches of 8
    assert trainer.run().step == 8  # read into memory at the start: the run trains on what it read
    capsys.readouterr()
    result = train(replace(cfg, total_steps=10), tmp_path / "run", resume=True, quiet=True)
    assert result.step == 10
    err = capsys.readouterr().err
    warnings = [line for line in err.splitlines() if "changed since step 8 was saved" in line]
    assert len(warnings) == 1 and "(24 items then, 20 now)" in warnings[0]
    capsys.readouterr()
    train(replace(cfg, total_steps=12), tmp_path / "run", resume=True, quiet=True)  # unchanged since: no warning
    assert "changed since" not in capsys.readouterr().err


def test_a_conditional_run_whose_classes_changed_is_refused_on_resume(config, tmp_path):
    data = tmp_path / "images"
    _digit_folder(data, 12, classes=3)
    cfg = replace(config, data=str(data), conditional=True, augment="off", total_steps=2, sample_count=3)
    train(cfg, tmp_path / "run", quiet=True)
    shutil.rmtree(data / "class2")
    with pytest.raises(GanforgeError, match=r"its classes changed since step 2 was saved \(3 then, 2 now: gone "
                                            r"class2\); a conditional run needs the classes it was trained with"):
        train(replace(cfg, total_steps=4), tmp_path / "run", resume=True, quiet=True)
    assert load_checkpoint(tmp_path / "run")["step"] == 2


def test_checkpoints_record_the_data_they_were_trained_on(config, tmp_path):
    state = load_checkpoint(train(replace(config, total_steps=2), tmp_path / "run", quiet=True).checkpoint)
    assert state["data"]["items"] > 0 and len(state["data"]["sha256"]) == 64
    assert isinstance(state["time_budget"]["spent"], float) and state["time_budget"]["ends_at"] is None
    assert torch.is_tensor(state["G"][next(iter(state["G"]))])
