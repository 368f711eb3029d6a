"""The training monitor: what a run directory says right now (latest samples, curves, doctor events).

Cheap to call every few seconds: the curves are redrawn only when metrics.jsonl changed.
"""

from __future__ import annotations

import functools
import io
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ganforge.images import has_alpha, to_channels
from ganforge.inference.report import event_rows, loss_curves_png, sample_files
from ganforge.serve.runs import ServedRun
from ganforge.training.metrics_log import read_metrics


@dataclass
class MonitorView:
    status: str  # one line of Markdown
    latest_samples: np.ndarray | None  # uint8 (H, W, C)
    curves: np.ndarray | None
    events: list[list[str]]  # [step, event, details]


def snapshot(run: ServedRun) -> MonitorView:
    metrics = run.path / "metrics.jsonl"
    try:
        stat = metrics.stat()
        version = (stat.st_mtime_ns, stat.st_size)
    except OSError:
        version = None
    records = read_metrics(metrics)
    logs = [r for r in records if "event" not in r]
    samples = sample_files(run.path)
    latest = _read_png(samples[-1][1]) if samples else None
    status = f"**{run.name}**: no log records yet"
    if logs:
        last = logs[-1]
        age = time.time() - version[0] / 1e9 if version else 0
        probs = (f" · D(x) {last['D/real_prob']:.2f} · D(G(z)) {last['D/fake_prob']:.2f}"
                 if last.get("D/real_prob") is not None and last.get("D/fake_prob") is not None else "")
        status = f"**{run.name}**: step {last.get('step')}{probs} · last logged {_ago(age)}"
    return MonitorView(status, latest, _curves(metrics, version), event_rows(records))


@functools.lru_cache(maxsize=16)
def _curves_cached(path: Path, version: tuple[int, int]) -> np.ndarray | None:
    png = loss_curves_png([r for r in read_metrics(path) if "event" not in r])
    return None if png is None else np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def _curves(path: Path, version: tuple[int, int] | None) -> np.ndarray | None:
    return None if version is None else _curves_cached(path, version)


def _read_png(path: Path) -> np.ndarray | None:
    try:
        with Image.open(path) as image:  # an RGBA run's grids stay transparent
            return np.asarray(to_channels(image, 4 if has_alpha(image) else 3))
    except OSError:
        return None  # being replaced right now; the next refresh shows it


def _ago(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s ago"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.1f} h ago"
