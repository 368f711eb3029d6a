"""The human-readable side of metrics.jsonl: every evaluation as one row of a Markdown table (eval.md)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ganforge.training.metrics_log import read_metrics

COLUMNS = ["fid", "kid", "precision", "recall", "density", "coverage", "is", "copies"]


def eval_records(metrics_file: Path) -> list[dict[str, Any]]:
    return [r for r in read_metrics(metrics_file) if isinstance(r.get("eval/provenance"), dict)]


def _cell(record: dict[str, Any], score: str) -> str:
    value = record.get(f"eval/{score}")
    if value is None:
        return ""
    if score in ("kid", "is") and record.get(f"eval/{score}_std") is not None:
        digits = 5 if score == "kid" else 2
        return f"{value:.{digits}f} ± {record[f'eval/{score}_std']:.{digits}f}"
    return f"{value:.4g}" if score == "fid" else f"{value:.3f}"


def format_table(records: list[dict[str, Any]]) -> str:
    """Markdown table; only the score columns some record has."""
    scores = [c for c in COLUMNS if any(f"eval/{c}" in r for r in records)]
    header = ["step", *scores, "n gen", "n real", "extractor", "precision", "checkpoint"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in records:
        p = r["eval/provenance"]
        cells = [str(r.get("step", "")), *(_cell(r, s) for s in scores), str(p.get("n_gen", "")),
                 str(p.get("n_real", "")), f"{p.get('extractor', '')} ({p.get('weights_sha256', '')[:8]})",
                 str(p.get("precision", "")), os.path.basename(str(p.get("checkpoint", "")))]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_table(run_dir: Path) -> Path:
    """Rewrite run_dir/eval.md from the evaluation records in run_dir/metrics.jsonl."""
    records = eval_records(Path(run_dir) / "metrics.jsonl")
    path = Path(run_dir) / "eval.md"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("# Evaluations\n\nFull provenance of each row: the `eval/provenance` field in metrics.jsonl.\n\n"
                   + format_table(records))
    tmp.replace(path)
    return path
