"""report.html: one self-contained page that tells how a run went.

Everything is inlined (CSS, images as base64), so the file can be mailed, archived or opened
offline, and the browser never fetches anything. Built only from what the run directory holds:
config.json, metrics.jsonl (log records, and doctor records that carry an `event` key) and samples/.
"""

from __future__ import annotations

import base64
import datetime
import html
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from PIL import Image

from ganforge.errors import GanforgeError
from ganforge.training.metrics_log import read_metrics
from ganforge.training.plots import plot_losses

REPORT = "report.html"
STRIP_LENGTH = 8  # sample grids shown in the evolution strip
TABLE_ROWS = 20  # metrics rows shown (evenly spaced, always including the last)
THUMBNAIL_PX = 256

CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; padding: 0 1em; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2em; margin-top: 1.6em; }
table { border-collapse: collapse; font-size: 0.9em; } td, th { border: 1px solid #ddd; padding: 0.25em 0.6em; }
th { background: #f4f4f4; text-align: left; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.strip { display: flex; gap: 0.8em; overflow-x: auto; } figure { margin: 0; text-align: center; }
figcaption { font-size: 0.8em; color: #555; } img.px { image-rendering: pixelated; }
.muted { color: #666; } .event { background: #fff6e0; }
"""


def write_report(run_dir: str | os.PathLike) -> Path:
    """(Re)write RUN/report.html atomically; safe to call while the run is still training."""
    run_dir = Path(run_dir)
    if not (run_dir / "config.json").is_file():
        raise GanforgeError(f"{run_dir}: not a run directory (no config.json)")
    path = run_dir / REPORT
    tmp = path.with_name(f".{REPORT}.{os.getpid()}.tmp")
    tmp.write_text(render_report(run_dir), encoding="utf-8")
    os.replace(tmp, path)
    return path


def render_report(run_dir: Path) -> str:
    sections = _read_config(run_dir / "config.json")
    config = {k: v for section in sections.values() if isinstance(section, dict) for k, v in section.items()}
    config = config or sections  # a flat config.json (older runs)
    records = read_metrics(run_dir / "metrics.jsonl")
    logs = [r for r in records if "event" not in r]
    samples = sample_files(run_dir)
    last_step = max([int(r.get("step", 0)) for r in records] + [step for step, _ in samples] + [0])
    generated = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    parts = [
        f"<h1>{_e(run_dir.resolve().name)}</h1>",
        f"<p class='muted'>{_e(config.get('model', '?'))} on {_e(config.get('data', '?'))}, step {last_step}; "
        f"report written {generated}</p>",
        "<h2>Final samples</h2>", _final_grid(samples),
        "<h2>Sample evolution</h2>", _strip(samples),
        "<h2>Losses and D(x) / D(G(z))</h2>", _curves(logs),
        "<h2>Doctor events</h2>", _events(records),
        "<h2>Metrics</h2>", _metrics_table(logs),
        "<h2>Configuration</h2>", _config_table(sections),
    ]
    body = "\n".join(parts)
    return (f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>ganforge report: {_e(run_dir.resolve().name)}</title><style>{CSS}</style></head>\n"
            f"<body>\n{body}\n</body></html>\n")


def sample_files(run_dir: Path) -> list[tuple[int, Path]]:
    """(step, path) of every fixed-seed sample grid, oldest first."""
    found = [(int(p.stem), p) for p in (run_dir / "samples").glob("*.png") if p.stem.isdigit()]
    return sorted(found)


def _read_config(path: Path) -> dict[str, Any]:
    try:
        values = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise GanforgeError(f"{path}: cannot read config ({err})") from None
    return values if isinstance(values, dict) else {}


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _png_bytes(path: Path, max_px: int | None = None) -> bytes:
    with Image.open(path) as image:
        image.load()
        if max_px is not None and max(image.size) > max_px:
            image.thumbnail((max_px, max_px))
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return buffer.getvalue()


def _img(png: bytes, alt: str, width: int | None = None) -> str:
    size = f" width='{width}'" if width else ""
    return f"<img class='px' src='{_data_uri(png)}' alt='{_e(alt)}'{size}>"


def _final_grid(samples: list[tuple[int, Path]]) -> str:
    if not samples:
        return "<p class='muted'>No sample grids yet.</p>"
    step, path = samples[-1]
    png = _png_bytes(path)
    with Image.open(path) as image:
        width = max(image.width, 384)  # tiny grids are scaled up, pixel-sharp
    return f"<figure>{_img(png, f'samples at step {step}', width)}<figcaption>step {step}</figcaption></figure>"


def _evenly(items: list, count: int) -> list:
    """At most `count` items spread evenly over the list, first and last included."""
    if len(items) <= count:
        return list(items)
    picks = sorted({round(i * (len(items) - 1) / (count - 1)) for i in range(count)})
    return [items[i] for i in picks]


def _strip(samples: list[tuple[int, Path]]) -> str:
    if not samples:
        return "<p class='muted'>No sample grids yet.</p>"
    figures = [f"<figure>{_img(_png_bytes(path, THUMBNAIL_PX), f'step {step}', 160)}"
               f"<figcaption>step {step}</figcaption></figure>" for step, path in _evenly(samples, STRIP_LENGTH)]
    return "<p class='muted'>The same latent vectors at successive steps.</p><div class='strip'>" + \
        "".join(figures) + "</div>"


def loss_curves_png(logs: list[dict[str, Any]]) -> bytes | None:
    """The run's loss.png drawn from these records, as PNG bytes; None before two log records exist."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "loss.png"
        plot_losses(logs, path)
        return path.read_bytes() if path.is_file() else None


def event_rows(records: list[dict[str, Any]]) -> list[list[str]]:
    """[step, event, details] for each doctor record (one with an `event` key)."""
    rows = []
    for record in records:
        if "event" in record:
            details = record.get("message") or "; ".join(
                f"{k}={v}" for k, v in record.items() if k not in ("step", "event"))
            rows.append([str(record.get("step", "")), str(record["event"]), str(details)])
    return rows


def _curves(logs: list[dict[str, Any]]) -> str:
    png = loss_curves_png(logs)
    if png is None:
        return "<p class='muted'>Curves appear once the run has logged twice.</p>"
    return _img(png, "loss and discriminator curves")  # the plot's title explains how to read it


def _events(records: list[dict[str, Any]]) -> str:
    rows = event_rows(records)
    if not rows:
        return "<p class='muted'>None recorded.</p>"
    cells = "".join("<tr class='event'>" + "".join(f"<td>{_e(cell)}</td>" for cell in row) + "</tr>" for row in rows)
    return "<table><tr><th>step</th><th>event</th><th>details</th></tr>" + cells + "</table>"


def _format(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def _metrics_table(logs: list[dict[str, Any]]) -> str:
    if not logs:
        return "<p class='muted'>No log records yet.</p>"
    columns: list[str] = []
    for record in logs:
        columns += [k for k in record if k not in columns]
    shown = _evenly(logs, TABLE_ROWS)
    header = "".join(f"<th>{_e(c)}</th>" for c in columns)
    rows = "".join("<tr>" + "".join(f"<td class='num'>{_e(_format(r.get(c)))}</td>" for c in columns) + "</tr>"
                   for r in shown)
    note = f"<p class='muted'>{len(shown)} of {len(logs)} log records.</p>" if len(shown) < len(logs) else ""
    return f"{note}<table><tr>{header}</tr>{rows}</table>"


def _config_table(config: dict[str, Any]) -> str:
    """One row per setting, under a heading row per section (a flat config.json: one sorted list)."""

    def rows(values: dict[str, Any]) -> str:
        return "".join(f"<tr><th>{_e(k)}</th><td>{_e(json.dumps(v))}</td></tr>" for k, v in values.items())

    if not any(isinstance(v, dict) for v in config.values()):
        return f"<table>{rows(dict(sorted(config.items())))}</table>"
    body = "".join(f"<tr><th colspan='2'>{_e(name)}</th></tr>{rows(values)}" for name, values in config.items()
                   if isinstance(values, dict))
    return f"<table>{body}</table>"
