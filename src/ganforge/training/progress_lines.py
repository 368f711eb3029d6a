"""Training progress as plain lines, for output that is not a terminal (CI, nohup, a log file).

tqdm draws nothing there (it redraws one line in place, which a file would keep as a heap of carriage returns),
so a run in the background said nothing until it ended. This prints one line per log record instead (every
--log-every steps), at most one every `every_s` seconds, and the last one when training stops:
`step 1200/4000 (30%) | D 0.612 G 1.234 img/s 850 | ETA 3m05s`. It has the few methods of tqdm the loop uses.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO


def format_duration(seconds: float) -> str:
    """1h02m, 3m05s or 42s."""
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


class ProgressLines:
    def __init__(self, total: int | None, initial: int = 0, file: TextIO | None = None, every_s: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.total, self.n, self.file, self.every_s, self.clock = total, initial, file, every_s, clock
        self._start, self._start_step = clock(), initial
        self._printed_at: float | None = None
        self._printed_step: int | None = None
        self._postfix = ""
        self._description = ""

    def update(self, n: int = 1) -> None:
        self.n += n

    def set_postfix_str(self, text: str) -> None:
        """A new log record's summary: printed if the last line is `every_s` old (or there was none)."""
        self._postfix = text
        if self._printed_at is None or self.clock() - self._printed_at >= self.every_s:
            self.print_line()

    def set_description_str(self, text: str, refresh: bool = True) -> None:
        """Shown after the step count (a time-budgeted run's time left); printed with the next line."""
        self._description = text

    def refresh(self) -> None:
        """Nothing to redraw: the next line shows the new total."""

    def print_line(self) -> None:
        parts = [f"step {self.n}/{self.total} ({100 * self.n / self.total:.0f}%)" if self.total else f"step {self.n}"]
        if self._description:
            parts.append(self._description)
        if self._postfix:
            parts.append(self._postfix)
        eta = self._eta()
        if eta is not None:
            parts.append(f"ETA {format_duration(eta)}")
        print(" | ".join(parts), file=self.file or sys.stderr, flush=True)
        self._printed_at, self._printed_step = self.clock(), self.n

    def _eta(self) -> float | None:
        """Seconds to the last step at this invocation's average pace so far (None without a step count)."""
        done, elapsed = self.n - self._start_step, self.clock() - self._start
        if not self.total or done <= 0 or elapsed <= 0:
            return None
        return max(self.total - self.n, 0) * elapsed / done

    def close(self) -> None:
        """The last line, unless the last one printed was already at this step."""
        if self._printed_step != self.n and self.n > self._start_step:
            self.print_line()
