"""`ganforge eval` as a function: score the latest (or every) checkpoint of a run and record the results."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

from ganforge.checkpoint import load_checkpoint, resolve_checkpoint
from ganforge.config.train_config import saved_settings
from ganforge.data import load_dataset
from ganforge.errors import GanforgeError
from ganforge.inference.sampling import load_generator
from ganforge.metrics.evaluate import EvalSettings, Evaluator, parse_metrics
from ganforge.metrics.features import create_extractor, default_extractor_name
from ganforge.metrics.table import write_table
from ganforge.runtime import resolve_device

STEP_FILE = re.compile(r"step-(\d+)\.pt$")


def run_dir_of(checkpoint: Path) -> Path:
    """The run folder a checkpoint belongs to (its parent's parent for runs/X/checkpoints/*.pt)."""
    return checkpoint.parent.parent if checkpoint.parent.name == "checkpoints" else checkpoint.parent


def find_checkpoints(run: str | os.PathLike, every: bool = False) -> list[Path]:
    """The latest checkpoint; with every=True, each periodic one too (by step, latest last unless repeated)."""
    latest = resolve_checkpoint(run)
    if not every:
        return [latest]
    step_of = {p: int(STEP_FILE.search(p.name).group(1)) for p in latest.parent.glob("step-*.pt")
               if STEP_FILE.search(p.name)}
    periodic = sorted(step_of, key=step_of.get)
    if latest in step_of or int(load_checkpoint(latest).get("step", -1)) in step_of.values():
        return periodic
    return [*periodic, latest]


def append_records(metrics_file: Path, records: list[dict[str, Any]]) -> None:
    metrics_file.parent.mkdir(parents=True, exist_ok=True)
    with open(metrics_file, "a") as handle:
        for record in records:
            handle.write(json.dumps(record) + "\n")


def evaluate_run(run: str | os.PathLike, metrics: str | list[str] = "fid,kid", n: int = 10_000, every: bool = False,
                 extractor: str | None = None, weights: str | None = None, resize: str | None = None,
                 seed: int = 0, n_real: int | None = None, data: str | None = None, device: str = "auto",
                 precision: str = "fp32", use_ema: bool = True, cache: bool = True,
                 quiet: bool = False) -> list[dict[str, Any]]:
    """Score checkpoints, append one record each to the run's metrics.jsonl and rewrite its eval.md table."""
    checkpoints = find_checkpoints(run, every)
    state = load_checkpoint(checkpoints[-1])
    try:
        config = saved_settings(state["config"])  # flat or in sections
        data_source = data or config["data"]
        resolution, channels = int(config["resolution"]), int(config["channels"])
    except (KeyError, TypeError, ValueError, GanforgeError):
        raise GanforgeError(f"{checkpoints[-1]}: holds no training config (data, resolution, channels); "
                            "is it a ganforge training checkpoint?") from None
    dev = resolve_device(device)
    chosen = create_extractor(extractor or default_extractor_name(data_source), weights, resize)
    dataset = load_dataset(data_source, resolution, channels, quiet=quiet)
    settings = EvalSettings(metrics=tuple(parse_metrics(metrics)), n_gen=n, seed=seed)
    if precision not in ("fp32", "bf16"):
        raise GanforgeError(f"--precision must be fp32 or bf16, got {precision!r}")
    evaluator = Evaluator(dataset, chosen, settings, dev, precision, n_real, cache, quiet)
    out_dir = run_dir_of(checkpoints[-1])
    records = []
    for path in checkpoints:
        loaded = load_generator(path, use_ema=use_ema, device=str(dev))
        if not quiet:
            print(f"scoring {path} (step {loaded.step}) on {n} samples", file=sys.stderr)
        record = evaluator(loaded.G, loaded.latent_dim, loaded.step, str(path), picture_dir=out_dir / "eval",
                           conditional=loaded.conditional)
        append_records(out_dir / "metrics.jsonl", [record])
        records.append(record)
    write_table(out_dir)
    return records
