"""What every tab of the web page builds on: Gradio on demand, one-line user errors, the queue's limits per
kind of work, the Page each tab builder gets, and small image helpers."""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ganforge.errors import GanforgeError
from ganforge.serve.runs import (
    ServedRun,
)

EXTRA = "ganforge serve needs Gradio: pip install 'ganforge[serve]'"
REFRESH_SECONDS = 5.0
# Requests of each kind run at once, across all browsers. The CPU cores are shared by all of them, so more at
# once would not finish sooner; they would hold more memory. Monitor and judge run one at a time, so one
# browser's answers arrive in the order it asked (a refresh for the previous run never lands after the new one's).
CONCURRENCY = {"generate": 2, "animate": 1, "translate": 2, "judge": 1, "monitor": 1, "stylize": 1}
MAX_WAITING = 64  # requests waiting in the queue (beyond those running) before the page answers "busy"
MONITOR = "Training monitor"  # the tab that refreshes itself, while it is open
STYLE_POLL_SECONDS = 0.5  # how often a stylisation in progress reports, and notices a cancel or a closed page
# GAN images are small: scale them up to the frame, pixel-sharp rather than blurred
CSS = ".scaled img { width: 100%; height: 100%; object-fit: contain; image-rendering: pixelated; }"


def _gradio() -> Any:
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no telemetry or update checks: offline page
    try:
        import gradio as gr
    except ImportError:
        raise GanforgeError(EXTRA) from None
    return gr


def _user_errors(fn: Callable) -> Callable:
    """Show GanforgeError messages on the page (the server carries on); hide anything else's internals."""
    gr = _gradio()

    if inspect.isgeneratorfunction(fn):  # Gradio must still see a generator, and close() must reach fn's own
        @functools.wraps(fn)
        def generator_wrapper(*args: Any) -> Any:
            try:
                yield from fn(*args)
            except GanforgeError as err:
                raise gr.Error(str(err), print_exception=False) from None

        return generator_wrapper

    @functools.wraps(fn)
    def wrapper(*args: Any) -> Any:
        try:
            return fn(*args)
        except GanforgeError as err:
            raise gr.Error(str(err), print_exception=False) from None

    return wrapper


def _queued(kind: str) -> dict[str, Any]:
    """An event's queue settings: one concurrency group per kind of work, named for the API too."""
    return {"concurrency_id": kind, "concurrency_limit": CONCURRENCY[kind]}


@dataclass
class Page:
    """What every tab builder gets."""

    runs: dict[str, ServedRun]
    picker: Any  # the run dropdown; its value is a key of `runs`
    current: Any  # a gr.State: the title of the tab the user is on
    scratch: Path  # a private folder for files made for download
    blocks: Any  # the gr.Blocks being built (for .load events)
    # (tab title or None for every tab, fn, inputs, outputs, options): run in order after the user opens that tab
    # (`current` is updated by then)
    on_tab_select: list[tuple] = field(default_factory=list)

    def run_changed(self, outputs: list, cancels: list) -> Any:
        """When another run is picked: blank `outputs` (what the previous run made) and cancel that run's
        requests in flight, so none of its answers lands after the switch. Not queued, so never refused
        when the page is busy. Returns the event, for a `.then` that fills the outputs for the new run."""
        blank = (lambda: None) if len(outputs) == 1 else (lambda: (None,) * len(outputs))
        return self.picker.change(blank, None, outputs, queue=False, show_progress="hidden", cancels=cancels,
                                  api_visibility="private")


@dataclass
class Tab:
    title: str
    build: Callable[[Page], None]
    supports: Callable[[ServedRun], bool] = lambda run: True


def _black_canvas() -> Any:
    import numpy as np

    return np.zeros((256, 256, 3), np.uint8)


def _shown(image_hwc: Any) -> Any:
    """Gradio displays grey images as (H, W), not (H, W, 1)."""
    return image_hwc[..., 0] if image_hwc.shape[-1] == 1 else image_hwc


def _pixels(image: Any) -> Any:
    """A PIL image's uint8 (H, W, C) array, alpha included."""
    import numpy as np

    return np.asarray(image)
