"""Score a run or a checkpoint: the one function behind `ganforge eval` and the Python API.

`evaluate_run(run_or_checkpoint, metrics=["kid"], samples=500)` returns {score: value}; each scoring is
also appended, with its provenance, to the run's metrics.jsonl and the table eval.md, as during training.
The scoring itself (features -> statistics -> metric) is metrics/evaluator.py's.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from torch import nn

from ganforge.checkpoint import load_checkpoint, resolve_checkpoint
from ganforge.config.ranges import EVAL_REAL, EVAL_SAMPLES, SEED, THREADS, check_number
from ganforge.config.train_config import saved_settings
from ganforge.data import load_dataset
from ganforge.errors import GanforgeError
from ganforge.inference.sampling import load_generator
from ganforge.metrics.evaluator import make_evaluator
from ganforge.metrics.scores import parse_metrics, scores_of
from ganforge.metrics.table import write_table
from ganforge.runtime import resolve_device
from ganforge.threads import chosen_threads

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


def evaluate_checkpoints(run_or_checkpoint: str | os.PathLike, metrics: str | Sequence[str] = ("fid", "kid"),
                         samples: int = 10_000, *, every: bool = False, extractor: str | nn.Module | None = None,
                         weights: str | None = None, resize: str | None = None, seed: int = 0,
                         n_real: int | None = None, data: str | None = None, device: str = "auto",
                         precision: str = "fp32", use_ema: bool = True, cache: bool = True,
                         quiet: bool = False, threads: int = 0) -> list[dict[str, Any]]:
    """The full metrics.jsonl record (scores and provenance) of the latest checkpoint, or of every one.

    Each record is appended to the run's metrics.jsonl and eval.md is rewritten. The real side (data set,
    extractor, reference features) is built once for all the checkpoints. threads: CPU threads, 0 for the fastest
    count, found by timing feature batches (ganforge/threads.py)."""
    metrics = parse_metrics(metrics)  # a wrong name or number fails before any data is loaded
    check_number("-n", samples, EVAL_SAMPLES)
    check_number("--seed", seed, SEED)
    if n_real is not None:
        check_number("--n-real", n_real, EVAL_REAL)
    checkpoints = find_checkpoints(run_or_checkpoint, every)
    state = load_checkpoint(checkpoints[-1])
    try:
        config = saved_settings(state["config"])  # flat or in sections
        data_source = data or config["data"]
        resolution, channels = int(config["resolution"]), int(config["channels"])
    except (KeyError, TypeError, ValueError, GanforgeError):
        raise GanforgeError(f"{checkpoints[-1]}: holds no training config (data, resolution, channels); "
                            "is it a ganforge training checkpoint?") from None
    dev = resolve_device(device)
    check_number("--threads", threads, THREADS)
    with chosen_threads(threads, dev.type, announce=None if quiet else _stderr):
        dataset = load_dataset(data_source, resolution, channels, quiet=quiet)
        evaluator = make_evaluator(dataset, data_source, metrics, samples, extractor, weights, resize, seed, n_real,
                                   dev, precision, cache, quiet)
        out_dir = run_dir_of(checkpoints[-1])
        records = []
        for path in checkpoints:
            loaded = load_generator(path, use_ema=use_ema, device=str(dev))
            if not quiet:
                print(f"scoring {path} (step {loaded.step}) on {samples} samples", file=sys.stderr)
            record = evaluator(loaded.G, loaded.latent_dim, loaded.step, str(path), picture_dir=out_dir / "eval",
                               conditional=loaded.conditional)
            append_records(out_dir / "metrics.jsonl", [record])
            records.append(record)
    write_table(out_dir)
    return records


def evaluate_run(run_or_checkpoint: str | os.PathLike, metrics: str | Sequence[str] = ("fid", "kid"),
                 samples: int = 10_000, *, extractor: str | nn.Module | None = None, weights: str | None = None,
                 resize: str | None = None, seed: int = 0, n_real: int | None = None, data: str | None = None,
                 device: str = "auto", precision: str = "fp32", use_ema: bool = True, cache: bool = True,
                 quiet: bool = False) -> dict[str, float]:
    """{score: value} for a run's latest checkpoint (or the checkpoint given), e.g. {"kid": 0.01, "kid_std": 0.002}.

    The keywords are evaluate_checkpoints'; the full record is in the run's metrics.jsonl as well."""
    record = evaluate_checkpoints(run_or_checkpoint, metrics, samples, extractor=extractor, weights=weights,
                                  resize=resize, seed=seed, n_real=n_real, data=data, device=device,
                                  precision=precision, use_ema=use_ema, cache=cache, quiet=quiet)[-1]
    return scores_of(record)


def _stderr(line: str) -> None:
    print(line, file=sys.stderr)
