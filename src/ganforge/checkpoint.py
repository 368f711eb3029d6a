"""Checkpoints that are safe to write and safe to read.

Written atomically (temp file, fsync, rename), so a crash at any moment leaves the previous file
intact. Read with `torch.load(weights_only=True)`, so a hostile file cannot run code on load.
"""

from __future__ import annotations

import os
import pickle
import re
import zipfile
from pathlib import Path
from typing import Any

import torch

from ganforge.errors import GanforgeError

FORMAT = "ganforge-checkpoint"
VERSION = 1
LATEST = "latest.pt"


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> Path:
    """Write state atomically: readers see either the old file or the complete new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    payload = {"format": FORMAT, "version": VERSION, **state}
    try:
        with open(tmp, "wb") as handle:
            torch.save(payload, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    _fsync_dir(path.parent)
    return path


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def resolve_checkpoint(path: str | os.PathLike) -> Path:
    """A checkpoint file, or a run directory -> its checkpoints/latest.pt."""
    path = Path(path).expanduser()
    if path.is_dir():
        candidate = path / "checkpoints" / LATEST
        if candidate.is_file():
            return candidate
        raise GanforgeError(f"{path}: no checkpoint found (expected {candidate})")
    if not path.exists():
        raise GanforgeError(f"{path}: no such run directory or checkpoint file")
    return path


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load and validate a ganforge checkpoint; any other file gets a one-line error."""
    path = resolve_checkpoint(path)
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(err))
        if found:
            raise GanforgeError(f"{path}: refused to load: it would import {found.group(1)}, and a checkpoint "
                                "must hold only tensors and plain data (it may be malicious)") from None
        raise GanforgeError(f"{path}: not a readable checkpoint (corrupt, or not a PyTorch file)") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as err:
        reason = str(err).strip().splitlines()[0][:160] if str(err).strip() else type(err).__name__
        raise GanforgeError(f"{path}: not a readable checkpoint (truncated or corrupt?): {reason}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise GanforgeError(f"{path}: not a ganforge checkpoint")
    if state.get("version", 0) > VERSION:
        raise GanforgeError(f"{path}: written by a newer ganforge (format {state['version']}); please upgrade")
    return state
