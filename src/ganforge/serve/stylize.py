"""The Stylize tab's work: two uploaded pictures through `ganforge.style.stylize`, kept small enough
that the page stays responsive (size and steps are bounded), on a thread of its own that stops at its next
step once the page no longer wants the result (Cancel pressed, browser closed)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ganforge.errors import GanforgeError
from ganforge.serve.runs import whole_number
from ganforge.serve.uploads import read_image_upload
from ganforge.style import StepInfo, StyleConfig, stylize
from ganforge.style.vgg import WeightsUnavailable, ensure_cached

MAX_STYLE_SIZE = 512
MIN_STYLE_SIZE = 16
MAX_STYLE_STEPS = 225  # at full size; with the coarser scales, the work of 300 equal steps at each of three
MAX_STRENGTH = 10.0


@dataclass
class StyleRequest:
    size: int
    steps: int
    strength: float
    preserve_colour: bool


def check_request(size: float, steps: float, strength: float, preserve_colour: bool) -> StyleRequest:
    """Bounded settings, or GanforgeError naming the field."""
    size = whole_number(size, "size", MIN_STYLE_SIZE, MAX_STYLE_SIZE)
    steps = whole_number(steps, "steps", 1, MAX_STYLE_STEPS)
    if strength is None or not 0 < strength <= MAX_STRENGTH:
        raise GanforgeError(f"style strength must be above 0 and at most {MAX_STRENGTH:g}, got {strength}")
    return StyleRequest(size, steps, float(strength), bool(preserve_colour))


def feature_note() -> str:
    """Which feature network the tab will use. The server never downloads: VGG19 only when its file is cached."""
    try:
        ensure_cached(download=False)
        return "Features: **VGG19** (ImageNet weights found in the torch hub cache)."
    except WeightsUnavailable as err:
        return ("Features: **random** (this server does not download VGG19): they transfer local texture and colour "
                f"speckle, not painterly strokes. {err}")


def stylize_uploads(content_path: str | None, style_path: str | None, request: StyleRequest,
                    on_step: Callable[[StepInfo], None] | None = None) -> tuple[np.ndarray, str]:
    """The stylised picture (uint8 (H, W, 3)) and one line saying what was done."""
    if not content_path or not style_path:
        raise GanforgeError("upload both a content picture and a style picture")
    content, style = read_image_upload(content_path), read_image_upload(style_path)
    notes: list[str] = []
    config = StyleConfig(size=request.size, steps=request.steps, style_strength=request.strength,
                         preserve_colour=request.preserve_colour, download=False, device="cpu")
    result = stylize(content, [style], config, on_step=on_step, notify=notes.append)
    summary = [f"{result.width}x{result.height} px", f"{request.steps} steps at full size",
               "random features" if notes else "VGG19 features", f"strength {request.strength:g}"]
    if request.preserve_colour:
        summary.append("colours kept")
    return np.asarray(result), " · ".join(summary)


class StyleCancelled(Exception):
    """Raised inside the optimisation at the step after StyleJob.cancel(); never reaches the page."""


@dataclass
class StyleJob:
    """One stylisation running on its own thread: the page's handler polls it and can stop it at any step."""

    request: StyleRequest
    latest: StepInfo | None = None  # the last step done, for the progress bar
    steps_done: int = 0  # every step taken, across scales (what a test counts to see that a cancel stops the work)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _done: threading.Event = field(default_factory=threading.Event, repr=False)
    _outcome: tuple[np.ndarray, str] | None = field(default=None, repr=False)
    _error: BaseException | None = field(default=None, repr=False)
    thread: threading.Thread | None = field(default=None, repr=False)

    @classmethod
    def start(cls, content_path: str | None, style_path: str | None, request: StyleRequest) -> StyleJob:
        job = cls(request)
        job.thread = threading.Thread(target=job._run, args=(content_path, style_path), name="ganforge-stylize",
                                      daemon=True)
        job.thread.start()
        return job

    def _run(self, content_path: str | None, style_path: str | None) -> None:
        try:
            self._outcome = stylize_uploads(content_path, style_path, self.request, self._step)
        except StyleCancelled:
            pass
        except BaseException as err:  # handed to the page's handler, which shows GanforgeErrors as messages
            self._error = err
        finally:
            self._done.set()

    def _step(self, step: StepInfo) -> None:
        self.latest, self.steps_done = step, self.steps_done + 1
        if self._stop.is_set():
            raise StyleCancelled

    def cancel(self) -> None:
        """Stop at the next optimisation step (returns at once; the thread ends within one step)."""
        self._stop.set()

    @property
    def cancelled(self) -> bool:
        return self._stop.is_set()

    def wait(self, seconds: float) -> bool:
        """True once the job has finished (done, failed or stopped)."""
        return self._done.wait(seconds)

    def result(self) -> tuple[np.ndarray, str]:
        """The picture and its summary; the job's error if it failed."""
        if self._error is not None:
            raise self._error
        if self._outcome is None:
            raise GanforgeError("the stylisation was cancelled")
        return self._outcome
