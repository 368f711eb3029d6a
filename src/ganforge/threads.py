"""How many CPU threads a process computes with, chosen by timing the work, and how waiting threads wait.

With one intra-op thread per core, a core busy with another program stalls every operator: each one ends when
its slowest thread does, and the threads that finished first spin on the busy cores instead of yielding them. So
when no thread count is given (`--threads 0`, the default) the count is chosen by timing a few units of the real
work (training steps, style-transfer steps, feature batches) at each candidate count and keeping the fastest; it
is checked again every few minutes, and sooner when the work slows down a lot (docs/speed.md). Nothing here
imports torch at module level: `prefer_passive_waiting` must run before torch loads its OpenMP runtime.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import statistics
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator, MutableMapping, Sequence

WAIT_SETTINGS = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")  # the user's own choice wins


def prefer_passive_waiting(environ: MutableMapping[str, str] = os.environ) -> bool:
    """Ask OpenMP threads to sleep rather than spin while they wait for each other (True if set here).

    OpenMP reads this once, when torch loads it, so it only works before `import torch`; a setting the user
    made (OMP_WAIT_POLICY, GOMP_SPINCOUNT, KMP_BLOCKTIME) is kept. Spinning threads take a busy core's time
    from the thread everyone is waiting for: digits steps with 2 threads and one core busy ran several times
    slower spinning than sleeping (docs/speed.md)."""
    if "torch" in sys.modules or any(name in environ for name in WAIT_SETTINGS):
        return False
    environ["OMP_WAIT_POLICY"] = "PASSIVE"
    return True


def candidate_counts(most: int) -> list[int]:
    """1, 2, 4, ... up to `most`, and `most` itself: a few counts are enough to find the knee."""
    counts, count = [], 1
    while count < most:
        counts.append(count)
        count *= 2
    return counts + [max(most, 1)]


class ThreadChooser:
    """Times units of work at each candidate thread count, keeps the fastest, and checks again later.

    Wrap each unit of work in `with chooser.unit():`. The first `warmup` units are not counted (first-use
    setup: oneDNN kernels, caches); after each change of count, `settle` units are not counted; then the median
    of `trial` units scores the count. Another count replaces the one running before the trial only if it is
    `min_gain` faster. Once chosen, a new trial starts after `recheck_s` seconds, or after `min_gap_s` when the
    recent units' median is over `slowdown` times the chosen count's time."""

    def __init__(self, counts: Sequence[int], set_threads: Callable[[int], None],
                 clock: Callable[[], float] = time.perf_counter, warmup: int = 2, settle: int = 1, trial: int = 3,
                 recheck_s: float = 300.0, slowdown: float = 2.0, min_gap_s: float = 30.0, min_gain: float = 0.1,
                 announce: Callable[[str], None] | None = None) -> None:
        self.counts = sorted(set(counts), reverse=True)  # the most first: what the warm-up units run at
        self.set_threads, self.clock, self.announce = set_threads, clock, announce
        self.settle, self.trial = settle, trial
        self.recheck_s, self.slowdown, self.min_gap_s, self.min_gain = recheck_s, slowdown, min_gap_s, min_gain
        self.chosen: int | None = None
        self.timings: dict[int, float] = {}  # seconds per unit at each count, from the latest trial
        self.trials = 0
        self._recent: deque[float] = deque(maxlen=5)
        self._checked_at = 0.0
        self.start_trial(self.counts, skip=warmup)

    def start_trial(self, order: Sequence[int], skip: int) -> None:
        """Time the counts again, in this order, not counting the first `skip` units."""
        self._queue = list(order)
        self._incumbent = order[0]  # what runs now (the most threads at first): kept unless another clearly wins
        self._samples: list[float] = []
        self.timings = {}
        self._try(self._queue.pop(0), skip)

    def _try(self, count: int, skip: int) -> None:
        self.trying: int | None = count
        self._skip = skip
        self.set_threads(count)

    @contextlib.contextmanager
    def unit(self) -> Iterator[None]:
        start = self.clock()
        yield
        self.record(self.clock() - start)

    def record(self, seconds: float) -> None:
        """One unit of work took `seconds` at the current count."""
        if self.trying is not None:
            self._trial_unit(seconds)
            return
        self._recent.append(seconds)
        since = self.clock() - self._checked_at
        slowed = (len(self._recent) == self._recent.maxlen
                  and statistics.median(self._recent) > self.slowdown * self.timings[self.chosen])
        if since >= self.recheck_s or (slowed and since >= self.min_gap_s):
            self.start_trial([self.chosen] + [c for c in self.counts if c != self.chosen], skip=0)

    def _trial_unit(self, seconds: float) -> None:
        if self._skip:
            self._skip -= 1
            return
        self._samples.append(seconds)
        if len(self._samples) < self.trial:
            return
        self.timings[self.trying] = statistics.median(self._samples)
        self._samples = []
        if self._queue:
            self._try(self._queue.pop(0), self.settle)
            return
        self._choose()

    def _choose(self) -> None:
        best = min(sorted(self.timings), key=self.timings.__getitem__)
        if self.timings[best] > (1 - self.min_gain) * self.timings[self._incumbent]:
            best = self._incumbent  # not worth a switch (noise; and each count rounds sums its own way)
        changed = best != self.chosen
        self.chosen, self.trying = best, None
        self.trials += 1
        self.set_threads(best)
        self._recent.clear()
        self._checked_at = self.clock()
        if self.announce is not None and changed:
            self.announce(self.describe())

    def describe(self) -> str:
        times = ", ".join(f"{count}: {1000 * seconds:.0f} ms" for count, seconds in sorted(self.timings.items()))
        return f"threads: {self.chosen} (timed per unit of work: {times}; --threads N fixes the count)"


# the chooser of the innermost `chosen_threads` block, if it is choosing (per thread: the web page serves requests
# on several)
_active: contextvars.ContextVar[ThreadChooser | None] = contextvars.ContextVar("ganforge_thread_chooser", default=None)


def auto_chooser(announce: Callable[[str], None] | None = None, **options: object) -> ThreadChooser | None:
    """A chooser over 1..(torch's current count), or None where there is nothing to choose: one thread, or
    OMP_NUM_THREADS set (the user's or torchrun's fixed count)."""
    import torch

    if os.environ.get("OMP_NUM_THREADS"):
        return None
    counts = candidate_counts(torch.get_num_threads())
    if len(counts) < 2:
        return None
    return ThreadChooser(counts, torch.set_num_threads, announce=announce, **options)  # type: ignore[arg-type]


@contextlib.contextmanager
def chosen_threads(requested: int, device: str = "cpu",
                   announce: Callable[[str], None] | None = None) -> Iterator[ThreadChooser | None]:
    """Run a block with `requested` intra-op threads, or with 0 a count chosen by timing the `unit()`s inside it
    (CPU only); the previous count comes back afterwards."""
    import torch

    previous = torch.get_num_threads()
    chooser = None
    if requested > 0:
        torch.set_num_threads(requested)
    elif str(device).startswith("cpu"):
        chooser = auto_chooser(announce)
    token = _active.set(chooser)
    try:
        yield chooser
    finally:
        _active.reset(token)
        torch.set_num_threads(previous)


def unit() -> contextlib.AbstractContextManager[None]:
    """One unit of work for the innermost `chosen_threads` block to time (nothing outside one)."""
    chooser = _active.get()
    return chooser.unit() if chooser is not None else contextlib.nullcontext()

