"""Writes that fail the way a full disk or a read-only file system makes them fail, for one folder only.

Tests and benchmarks arm it from inside a run (e.g. after step N) without root, a tiny file system or chmod
(which root ignores): while armed, a file opened for writing under the folder either cannot be opened (EROFS,
as on a read-only mount) or takes no bytes (ENOSPC at the first write, as on a full disk). Reads are untouched.
"""

from __future__ import annotations

import builtins
import errno
import io
import os
from pathlib import Path
from typing import Any

WRITE_MODES = set("wax+")


class _FullFile:
    """A file opened for writing on a full disk: every write fails, the rest is the real file's."""

    def __init__(self, handle: Any) -> None:
        self._handle = handle

    def write(self, data: Any) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def writelines(self, lines: Any) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)

    def __enter__(self) -> _FullFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self._handle.close()

    def __iter__(self) -> Any:
        return iter(self._handle)


class WriteFaults:
    """`with WriteFaults(run_dir, "full") as faults: ... faults.armed = True ...` (kind: "full" or "read-only")."""

    def __init__(self, folder: str | os.PathLike, kind: str, armed: bool = False) -> None:
        if kind not in ("full", "read-only"):
            raise ValueError(f"kind must be 'full' or 'read-only', got {kind!r}")
        self.folder = Path(folder).resolve()
        self.kind = kind
        self.armed = armed
        self.refused: list[Path] = []  # every write that failed, in order
        self._real_open = builtins.open

    def _under(self, file: Any) -> Path | None:
        if not isinstance(file, (str, bytes, os.PathLike)):
            return None  # a file descriptor
        path = Path(os.fsdecode(file)).resolve()
        return path if path == self.folder or self.folder in path.parents else None

    def _open(self, file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        path = self._under(file) if self.armed and WRITE_MODES & set(mode) else None
        if path is None:
            return self._real_open(file, mode, *args, **kwargs)
        self.refused.append(path)
        if self.kind == "read-only":
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return _FullFile(self._real_open(file, mode, *args, **kwargs))

    def __enter__(self) -> WriteFaults:
        builtins.open = io.open = self._open  # pathlib opens through io.open, everything else through open
        return self

    def __exit__(self, *exc: object) -> None:
        builtins.open = io.open = self._real_open
