"""Checkpoints that are safe to write and safe to read.

Written atomically (temp file, fsync, rename), so a crash at any moment leaves the previous file
intact. Each file checks itself: its zip members' CRC-32s and a sha256 of its zip structure sit inside it
(`zip_integrity.py`), so a truncated or bit-flipped copy is caught on load even when shared alone, instead
of training on garbage. A `<name>.sha256` beside it (`sha256sum -c` format) is a second check. Read with
`torch.load(weights_only=True)`, so a hostile file cannot run code on load.
"""

from __future__ import annotations

import errno
import hashlib
import os
import pickle
import re
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ganforge.errors import GanforgeError
from ganforge.zip_integrity import DamagedFile, is_sealed, load_verified, seal

FORMAT = "ganforge-checkpoint"
VERSION = 1
LATEST = "latest.pt"


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> Path:
    """Write state atomically: readers see either the old file or the complete new one.

    A failed write (disk full, quota, I/O error) leaves the previous checkpoint and its hash as they were.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_name(path)
    tmp_hash = _temp_name(hash_path(path))
    payload = {"format": FORMAT, "version": VERSION, **state}
    try:
        with open(tmp, "w+b") as handle:  # read back by seal()
            torch.save(payload, handle)
            seal(handle)
            os.fsync(handle.fileno())
        _write_synced(tmp_hash, f"{file_sha256(tmp)}  {path.name}\n")
        os.replace(tmp, path)
        os.replace(tmp_hash, hash_path(path))
    except (OSError, RuntimeError) as err:
        cause = _os_error_in(err)
        if cause is None:
            raise
        raise GanforgeError(f"could not write checkpoint {path}: {_os_reason(cause)}; "
                            "the previous checkpoint there (if any) is unchanged") from None
    finally:
        for leftover in (tmp, tmp_hash):
            if leftover.exists():
                leftover.unlink()
    _fsync_dir(path.parent)
    return path


def hash_path(path: str | os.PathLike) -> Path:
    """Where a checkpoint's content hash lives: `latest.pt` -> `latest.pt.sha256`."""
    path = Path(path)
    return path.with_name(path.name + ".sha256")


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _temp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def _write_synced(path: Path, text: str) -> None:
    with open(path, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def _os_error_in(err: BaseException | None) -> OSError | None:
    """The OSError behind err: torch's zip writer turns a failed write into a RuntimeError raised after it."""
    while err is not None and not isinstance(err, OSError):
        err = err.__cause__ or err.__context__
    return err


def _os_reason(err: OSError) -> str:
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        return "the disk is full (free some space, then resume)"
    return err.strerror or str(err) or type(err).__name__


_TEMP_FILE = re.compile(r"^\..+\.(\d+)\.tmp$")


def remove_stale_temp_files(directory: str | os.PathLike) -> list[Path]:
    """Delete half-written temp files left by writers that were killed; live writers' files stay."""
    removed = []
    directory = Path(directory)
    if not directory.is_dir():
        return removed
    for path in directory.iterdir():
        match = _TEMP_FILE.match(path.name)
        if match and not _process_alive(int(match.group(1))):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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


def verify_checkpoint(path: str | os.PathLike, always: bool = False) -> None:
    """Compare the file with its recorded hash; raise GanforgeError if they differ.

    A checkpoint without a `.sha256` beside it (copied alone, or older than this check) is not verified
    here; the checks inside the file still run when it is loaded. A sealed file (zip_integrity) is not hashed
    again here unless `always`: its seal covers every byte, and hashing it twice made loads ~1.4x slower.
    """
    path = Path(path)
    recorded_file = hash_path(path)
    if not recorded_file.is_file() or (not always and _sealed(path)):
        return
    recorded = recorded_file.read_text().split()
    if not recorded or not re.fullmatch(r"[0-9a-f]{64}", recorded[0]):
        raise GanforgeError(f"{recorded_file}: not a sha256 line; delete it to load {path.name} unverified")
    if file_sha256(path) != recorded[0]:
        raise GanforgeError(f"{path}: content does not match {recorded_file.name} "
                            f"(truncated or corrupted, {path.stat().st_size} bytes); not loaded")


def _sealed(path: Path) -> bool:
    try:
        return is_sealed(str(path))
    except (OSError, zipfile.BadZipFile, ValueError):
        return False  # not a readable zip: the sidecar's hash and then the load say what is wrong


def safe_torch_load(path: Path, map_location: str | torch.device = "cpu", what: str = "checkpoint") -> Any:
    """torch.load(weights_only=True) after the file's own integrity checks, with a one-line error for unsafe,
    truncated or corrupt files."""
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols of files it then refuses or reads
            warnings.simplefilter("ignore", UserWarning)
            return load_verified(str(path), lambda handle: torch.load(handle, map_location=map_location,
                                                                       weights_only=True))
    except DamagedFile as err:
        raise GanforgeError(f"{path}: not a readable {what}: {err}; not loaded") from None
    except pickle.UnpicklingError as err:
        # torch words it "Unsupported global: GLOBAL x.y" or "unsupported GLOBAL x.y whose module x is blocked"
        found = re.search(r"unsupported (?:global: )?GLOBAL (\S+)", str(err), re.IGNORECASE)
        if found:
            raise GanforgeError(f"{path}: refused to load: it would import {found.group(1)}, and a checkpoint "
                                "must hold only tensors and plain data (it may be malicious)") from None
        raise GanforgeError(f"{path}: not a readable {what} (corrupt, or not a PyTorch file)") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError, IndexError, KeyError) as err:
        reason = str(err).strip().splitlines()[0][:160] if str(err).strip() else type(err).__name__
        raise GanforgeError(f"{path}: not a readable {what} (truncated or corrupt?): {reason}") from None


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load and validate a ganforge checkpoint; any other file gets a one-line error."""
    path = resolve_checkpoint(path)
    verify_checkpoint(path)
    state = safe_torch_load(path, map_location)
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise GanforgeError(f"{path}: not a ganforge checkpoint")
    version = state.get("version", 0)
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise GanforgeError(f"{path}: not a ganforge checkpoint (its format version is {version!r:.40})")
    if version > VERSION:
        raise GanforgeError(f"{path}: written by a newer ganforge (format {version}); please upgrade")
    return state


def checkpoint_candidates(directory: str | os.PathLike) -> list[Path]:
    """A run's checkpoints, newest first: latest.pt, then the periodic step-NNNNNNN.pt files."""
    directory = Path(directory)
    latest = [directory / LATEST] if (directory / LATEST).is_file() else []
    periodic = [p for p in directory.glob("step-*.pt") if p.stem[5:].isdigit()]
    return latest + sorted(periodic, key=lambda p: int(p.stem[5:]), reverse=True)


def load_newest_intact(directory: str | os.PathLike,
                       warn: Callable[[str], None]) -> tuple[Path, dict[str, Any]]:
    """The newest checkpoint in `directory` that passes every check; each damaged one is reported by `warn`."""
    candidates = checkpoint_candidates(directory)
    if not candidates:
        raise GanforgeError(f"{directory}: no checkpoint found")
    problems = []
    for path in candidates:
        try:
            return path, load_checkpoint(path)
        except GanforgeError as err:
            problems.append(str(err))
            warn(f"warning: skipping damaged checkpoint: {err}")
    raise GanforgeError(f"{directory}: none of the {len(candidates)} checkpoints is intact (first problem: "
                        f"{problems[0]})")
