"""A run's folder: config.json, metrics.jsonl, tensorboard/, samples/, checkpoints/ and report.html.

Only the main process writes (rank 0 under torchrun); the others read its checkpoints on resume or
rollback and log nothing. Resuming finds the newest intact checkpoint (training/resume.py).

A new run's folders are made only once the run is built, so a run that fails at start leaves nothing behind.
A write that fails (disk full, read-only, the folder deleted) becomes one RunFolderError line naming the file.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ganforge.checkpoint import LATEST, save_checkpoint
from ganforge.config import TrainConfig
from ganforge.errors import GanforgeError, os_error_reason
from ganforge.inference.report import write_report
from ganforge.training.distributed import NullLog
from ganforge.training.metrics_log import MetricsLog
from ganforge.training.resume import holds_no_run, resume_state
from ganforge.training.tensorboard import TensorBoardLog


class RunFolderError(GanforgeError):
    """A file of the run folder could not be written; what was saved before is unchanged."""


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
        """The state to resume from (resume), else None once the folder is known to be free for a new run.
        Nothing is created here: start_logs makes the folders once the run is built."""
        if resume:
            return resume_state(self.path, warn=self.warn)
        if self.is_main and self.path.exists() and not holds_no_run(self.path):
            if not self.path.is_dir():
                raise GanforgeError(f"{self.path}: is a file; --out takes a folder for the run's files")
            raise GanforgeError(f"{self.path}: already holds files; resume it with --resume {self.path} "
                                "or choose a new --out")
        return None

    def start_logs(self, config: TrainConfig, resume_step: int | None = None) -> None:
        """The folders, metrics.jsonl and tensorboard/ (on resume: with the records after `resume_step` dropped),
        and config.json with the settings the run trains with. If this fails, the folders it made are removed."""
        if not self.is_main:
            return
        made = self._make_folders()  # on resume too: a copied run may lack its (empty) samples/
        try:
            with self.writing("config.json and metrics.jsonl"):
                self.log = MetricsLog(self.path / "metrics.jsonl", resume_step=resume_step)
                if config.tensorboard:
                    self.tensorboard = TensorBoardLog(self.path / "tensorboard", resume_step=resume_step)
                _write_atomically(self.path / "config.json", config.to_json() + "\n")
        except BaseException:
            self._remove_made(made, new_run=resume_step is None)
            raise

    def _make_folders(self) -> list[Path]:
        """checkpoints/ and samples/ (and the run folder and its missing parents): the folders made, outermost first."""
        wanted = [self.path, self.checkpoints, self.path / "samples"]
        made = [p for p in [*reversed(self.path.parents), *wanted] if not p.exists()]
        with self.writing("the run folder"):
            for folder in made:
                folder.mkdir(exist_ok=True)
        return made

    def _remove_made(self, made: list[Path], new_run: bool) -> None:
        """Undo a start that failed: a new run's first files, then the folders made, if left empty."""
        for name in ("metrics.jsonl", "config.json") if new_run else ():
            with contextlib.suppress(OSError):
                (self.path / name).unlink(missing_ok=True)
        for folder in reversed(made):
            with contextlib.suppress(OSError):
                folder.rmdir()  # only empty: anything else in it is kept

    @contextlib.contextmanager
    def writing(self, what: str) -> Iterator[None]:
        """Turn a failed write inside the block into one RunFolderError line: what, where and why."""
        try:
            yield
        except RunFolderError:
            raise
        except (OSError, RuntimeError) as err:  # torch and PIL raise a RuntimeError over the OSError
            cause = _os_error_in(err)
            if cause is None:
                raise
            raise RunFolderError(f"{self.path}: could not write {what}: {self.write_failure(cause)}") from None

    def write_failure(self, err: OSError) -> str:
        """Why a write failed, in words: the disk is full, read-only, no permission, the folder was deleted."""
        if not self.path.is_dir():
            return "the run folder was deleted while training"
        return os_error_reason(err)

    def save(self, state: dict[str, Any], keep: bool = False) -> Path:
        """checkpoints/latest.pt, and a step-N.pt kept beside it when `keep`. A deleted run folder is not made
        again: the run stops with a RunFolderError instead."""
        self._check_present(self.checkpoints, f"checkpoints/{LATEST}")
        path = save_checkpoint(self.latest, state)
        if keep:
            save_checkpoint(self.checkpoints / f"step-{int(state['step']):07d}.pt", state)
        return path

    def save_best(self, state: dict[str, Any]) -> Path:
        return save_checkpoint(self.checkpoints / "best.pt", state)

    def write_note(self, name: str, text: str) -> None:
        """A small text file beside config.json (e.g. auto.txt: what --preset auto chose and why)."""
        if self.is_main:
            with self.writing(name):
                _write_atomically(self.path / name, text + "\n")

    def sample_path(self, step: int) -> Path:
        self._check_present(self.path / "samples", "the sample grid")
        return self.path / "samples" / f"{step:07d}.png"

    def _check_present(self, folder: Path, what: str) -> None:
        """Refuse to write into a folder deleted while training: the writers would make it again (mkdir -p)."""
        if not folder.is_dir():
            why = (f"its {folder.name}/ folder was deleted while training" if self.path.is_dir()
                   else "the run folder was deleted while training")
            raise RunFolderError(f"{self.path}: could not write {what}: {why}")

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
        with self.writing("report.html"):
            write_report(self.path)


def _write_atomically(path: Path, text: str) -> None:
    """Readers see the old file or the new one, never half of one; a failed write leaves no temp file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _os_error_in(err: BaseException | None) -> OSError | None:
    """The OSError behind err (torch's zip writer and PIL raise other errors after a failed write)."""
    while err is not None and not isinstance(err, OSError):
        err = err.__cause__ or err.__context__
    return err
