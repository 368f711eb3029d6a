"""metrics.jsonl: one JSON object per log step, safe to resume into."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """Every well-formed record; a torn last line (from a crash) is ignored."""
    records = []
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return records


class MetricsLog:
    def __init__(self, path: Path, resume_step: int | None = None) -> None:
        self.path = path
        self.records: list[dict[str, Any]] = []
        if resume_step is not None:
            self.records = read_metrics(path)
            self.truncate_after(resume_step)
        else:
            path.write_text("")

    def truncate_after(self, step: int) -> None:
        """Keep what a checkpoint at `step` covers; later records belong to steps that will be re-run."""
        self.records = [r for r in self.records if r.get("step", 0) <= step]
        self._rewrite()

    def _rewrite(self) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            tmp.write_text("".join(json.dumps(r) + "\n" for r in self.records))
            tmp.replace(self.path)
        finally:  # a failed write (disk full) leaves the old file and no temp file
            tmp.unlink(missing_ok=True)

    def write(self, record: dict[str, Any]) -> None:
        clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in record.items()}
        self.records.append(clean)
        with open(self.path, "a") as handle:
            handle.write(json.dumps(clean) + "\n")
