"""Finding where a run can continue from after a crash, a kill or a damaged file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ganforge.checkpoint import checkpoint_candidates, load_newest_intact, remove_stale_temp_files
from ganforge.errors import GanforgeError


def resume_state(run_dir: Path, warn: Callable[[str], None]) -> dict[str, Any]:
    """The state of the newest intact checkpoint in run_dir/checkpoints.

    Damaged checkpoints are skipped with a warning (the next older one is used), and temp files left
    by a killed writer are removed. A run killed before its first checkpoint restarts from step 0 with
    its saved config.json: nothing had been saved, so nothing is lost. The returned dict then holds
    only "config" and "step".
    """
    ckpt_dir = run_dir / "checkpoints"
    remove_stale_temp_files(ckpt_dir)
    if checkpoint_candidates(ckpt_dir):
        path, state = load_newest_intact(ckpt_dir, warn)
        warn(f"resuming from step {int(state['step'])} ({path.relative_to(run_dir)})")
        return state
    config = run_dir / "config.json"
    if config.is_file():
        warn(f"{run_dir}: stopped before its first checkpoint; starting again from step 0 with its config.json")
        return {"config": config.read_text(), "step": 0}
    if is_unstarted(run_dir):
        raise GanforgeError(f"{run_dir}: nothing to resume, it was stopped while starting; start it again with "
                            f"--out {run_dir}")
    raise GanforgeError(f"{run_dir}: nothing to resume (no checkpoints/ and no config.json); is this a run folder?")


def is_unstarted(run_dir: Path) -> bool:
    """True for a run folder killed while starting: nothing in it but empty folders, so it may be reused."""
    return (run_dir / "checkpoints").is_dir() and holds_no_run(run_dir)


def holds_no_run(folder: Path) -> bool:
    """True for a folder with no file at any depth (empty, or empty folders only): --out may use it."""
    if not folder.is_dir():
        return False
    return not any(p.is_file() or p.is_symlink() for p in folder.rglob("*"))
