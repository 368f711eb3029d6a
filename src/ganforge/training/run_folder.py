"""A run's folder: config.json, metrics.jsonl, tensorboard/, samples/, checkpoints/ and report.html.

Only the main process writes (rank 0 under torchrun); the others read its checkpoints on resume or
rollback and log nothing. Resuming finds the newest intact checkpoint (training/resume.py).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ganforge.checkpoint import LATEST, save_checkpoint
from ganforge.config import TrainConfig
from ganforge.errors import GanforgeError
from ganforge.inference.report import write_report
from ganforge.training.distributed import NullLog
from ganforge.training.metrics_log import MetricsLog
from ganforge.training.resume import is_unstarted, resume_state
from ganforge.training.tensorboard import TensorBoardLog


class RunFolder:
    def __init__(self, path: str | Path, is_main: bool = True, warn: Callable[[str], None] = print) -> None:
        self.path = Path(path)
        self.is_main = is_main
        self.warn = warn  # where resume notes go (the console above the progress bar)
        self.log: MetricsLog | NullLog = NullLog()
        self.tensorboard: TensorBoardLog | None = None

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def latest(self) -> Path:
        return self.checkpoints / LATEST

    def open(self, resume: bool) -> dict[str, Any] | None:
        """The state to resume from (resume), else None after making a new run's empty folder."""
        if resume:
            return resume_state(self.path, warn=self.warn)
        if not self.is_main:  # rank 0 makes the run folder
            return None
        if self.path.exists() and any(self.path.iterdir()) and not is_unstarted(self.path):
            raise GanforgeError(f"{self.path}: already holds files; resume it with --resume {self.path} "
                                "or choose a new --out")
        self.checkpoints.mkdir(parents=True, exist_ok=True)
        (self.path / "samples").mkdir(exist_ok=True)
        return None

    def start_logs(self, config: TrainConfig, resume_step: int | None = None) -> None:
        """metrics.jsonl and tensorboard/ (on resume: with the records after `resume_step` dropped), and
        config.json with the settings the run trains with."""
        if not self.is_main:
            return
        self.log = MetricsLog(self.path / "metrics.jsonl", resume_step=resume_step)
        if config.tensorboard:
            self.tensorboard = TensorBoardLog(self.path / "tensorboard", resume_step=resume_step)
        (self.path / "config.json").write_text(config.to_json() + "\n")

    def save(self, state: dict[str, Any], keep: bool = False) -> Path:
        """checkpoints/latest.pt, and a step-N.pt kept beside it when `keep`."""
        path = save_checkpoint(self.latest, state)
        if keep:
            save_checkpoint(self.checkpoints / f"step-{int(state['step']):07d}.pt", state)
        return path

    def save_best(self, state: dict[str, Any]) -> Path:
        return save_checkpoint(self.checkpoints / "best.pt", state)

    def sample_path(self, step: int) -> Path:
        return self.path / "samples" / f"{step:07d}.png"

    def rewind(self, step: int) -> None:
        """Forget the records after `step`: the steps after it are run again (a rollback)."""
        self.log.truncate_after(step)
        if self.tensorboard is not None:
            self.tensorboard.rewind(step)

    def close(self) -> None:
        """At the end of training: flush tensorboard and write report.html."""
        if not self.is_main:
            return
        if self.tensorboard is not None:
            self.tensorboard.close()
        write_report(self.path)
