"""Ctrl-C and SIGTERM stop training between steps, never in the middle of one.

An optimiser step interrupted half-way leaves weights and Adam moments out of step with each other;
saving that would put a subtly damaged state into the checkpoint. So the first signal only asks the
loop to stop after the current step (which then saves). A second signal stops at once.
"""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any

HANDLED = (signal.SIGINT, signal.SIGTERM)


class StopSignals:
    def __init__(self) -> None:
        self.requested: str | None = None  # the signal's name once one arrived
        self._previous: dict[int, Any] = {}

    def install(self) -> StopSignals:
        """Handle SIGINT/SIGTERM until restore(); a no-op outside the main thread (Python's rule)."""
        if threading.current_thread() is threading.main_thread():
            for signum in HANDLED:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = signal.Signals(signum).name
        print(f"\n{self.requested}: stopping after this step and saving a checkpoint "
              "(send it again to stop at once)", file=sys.stderr)
