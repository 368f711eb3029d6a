"""One exception type for every mistake a user can make.

The CLI turns it into a one-line message and a non-zero exit, never a traceback.
"""


class GanforgeError(Exception):
    """A user-facing error: the message names the file or flag and what to do."""
