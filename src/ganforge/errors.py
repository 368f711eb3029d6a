"""One exception type for every mistake a user can make.

The CLI turns it into a one-line message and a non-zero exit, never a traceback; a failed file operation
(OSError) too, through os_error_line.
"""

import os


class GanforgeError(Exception):
    """A user-facing error: the message names the file or flag and what to do."""


def os_error_reason(err: OSError) -> str:
    """Why a file operation failed, in words (the disk is full, read-only, a file where a folder should be)."""
    import errno
    from pathlib import Path

    reasons = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is used up",
               errno.EROFS: "the file system is read-only", errno.EACCES: "permission denied",
               errno.EPERM: "permission denied", errno.ENOENT: "no such file or folder",
               errno.ENOTDIR: "part of the path is a file, not a folder", errno.EISDIR: "is a folder, not a file",
               errno.ENAMETOOLONG: "the name is too long"}
    if err.errno == errno.EEXIST and err.filename is not None and Path(os.fsdecode(err.filename)).is_file():
        return "is a file, not a folder"
    return reasons.get(err.errno, err.strerror or str(err) or type(err).__name__)


def os_error_line(err: OSError) -> str:
    """One line for a failed file operation: `PATH: reason`."""
    where = os.fsdecode(err.filename) if err.filename is not None else None
    return f"{where}: {os_error_reason(err)}" if where else os_error_reason(err)
