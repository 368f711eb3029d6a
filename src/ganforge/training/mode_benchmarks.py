"""`ganforge bench modes`: the standard mode-collapse benchmarks, plain baseline vs recommended recipe.

Each (benchmark, recipe, seed) trains a fresh run under a time budget, samples it with the published
protocol (2,500 points for ring / grid; 26,000 images for stacked digits) and scores it
(metrics/modes.py). The table puts the mean over seeds beside the published numbers.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ganforge.config import resolve_config
from ganforge.data.points import load_points
from ganforge.inference.sampling import generate, latents, load_generator
from ganforge.metrics.modes import read_stacked_modes, score_points, score_stacked_modes
from ganforge.runtime import torch_threads
from ganforge.training.loop import Trainer
from ganforge.training.metrics_log import read_metrics

BENCHMARKS = ("ring", "grid", "stacked-digits")
RECIPES = ("plain", "recommended")
DEFAULT_MINUTES = {"ring": 3.0, "grid": 3.0, "stacked-digits": 20.0}
SAMPLES = {"ring": 2500, "grid": 2500, "stacked-digits": 26000}
SAMPLE_SEED = 12345  # latents for scoring, never seen in training
# a run is scored from its last checkpoint, so periodic copies are rare: frequent ones took hundreds of MB per
# long stacked-digits run (docs/toy-2d.md)
BENCH_CHECKPOINT_EVERY = 10_000
PUBLISHED = {  # PacGAN (Lin et al. 2018), Table 1 (grid) and Table 3 (stacked MNIST): best reported
    "grid": "PacGAN4: 24.8/25 modes, 93.6% HQ",
    "stacked-digits": "PacGAN: 1000/1000 modes, KL 0.06",
    "ring": "(not in PacGAN's tables)",
}


@dataclass
class BenchRun:
    benchmark: str
    recipe: str
    seed: int
    steps: int
    wall_s: float
    cpu_s: float  # CPU seconds of this process (all its threads) while training: what the budget counts
    modes: int
    modes_total: int
    high_quality: float | None = None  # ring / grid
    kl: float | None = None  # stacked digits
    read_fraction: float | None = None  # stacked digits: samples whose 3 channels all read as digits
    doctor_events: list[str] = field(default_factory=list)


def _score(benchmark: str, run_dir: Path) -> dict:
    loaded = load_generator(run_dir)  # the EMA generator when the recipe keeps one
    samples = generate(loaded.G, latents(SAMPLES[benchmark], loaded.latent_dim, SAMPLE_SEED), batch_size=1000)
    if benchmark == "stacked-digits":
        from ganforge.metrics.digit_classifier import load_digit_classifier

        score = score_stacked_modes(read_stacked_modes(load_digit_classifier().model, samples))
        return dict(modes=score.modes_captured, modes_total=1000, kl=score.kl_to_uniform,
                    read_fraction=score.read_fraction)
    data = load_points(benchmark)
    score = score_points(samples, data.modes, data.std)
    return dict(modes=score.modes_captured, modes_total=score.modes_total, high_quality=score.high_quality)


def run_one(benchmark: str, recipe: str, seed: int, minutes: float, out_dir: Path, quiet: bool = True,
            overrides: dict | None = None) -> BenchRun:
    """Train one run (in out_dir, which must not exist yet) and score it; `overrides` change the recipe."""
    config = resolve_config({"data": benchmark, "preset": recipe, "seed": seed, "max_minutes": minutes,
                          "checkpoint_every": BENCH_CHECKPOINT_EVERY, **(overrides or {})})
    with torch_threads(1):  # most work per CPU second for these small models (and fair under a CPU budget)
        wall, cpu = time.monotonic(), time.process_time()
        trainer = Trainer(config, out_dir, quiet=quiet)
        trainer.clock = time.process_time  # the budget is CPU time: fair on a machine shared with other work
        result = trainer.run()
        if result.status == "interrupted":  # Ctrl-C / SIGTERM stops the whole benchmark, not just this run
            raise KeyboardInterrupt
        wall, cpu = time.monotonic() - wall, time.process_time() - cpu
        scores = _score(benchmark, out_dir)
    events = [f"{r['step']}:{r['event']}" for r in read_metrics(out_dir / "metrics.jsonl")
              if str(r.get("event", "")).startswith("doctor/")]
    return BenchRun(benchmark, recipe, seed, result.step, wall, cpu, doctor_events=events, **scores)


def run_modes_bench(out_root: Path, only: tuple[str, ...] = BENCHMARKS, seeds: tuple[int, ...] = (0, 1, 2, 3, 4),
                    minutes: float | None = None, recipes: tuple[str, ...] = RECIPES,
                    report: Callable[[BenchRun], None] | None = None) -> list[BenchRun]:
    """Every (benchmark, recipe, seed); `minutes` overrides the per-run CPU-time budgets (3 for 2D, 20 for digits)."""
    runs = []
    for benchmark in only:
        for recipe in recipes:
            for seed in seeds:
                budget = minutes if minutes is not None else DEFAULT_MINUTES[benchmark]
                run = run_one(benchmark, recipe, seed, budget, Path(out_root) / f"{benchmark}-{recipe}-seed{seed}")
                runs.append(run)
                if report is not None:
                    report(run)
    return runs


def _mean_sd(values: list[float], digits: int) -> str:
    mean = statistics.fmean(values)
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{mean:.{digits}f} ± {sd:.{digits}f}"


def format_run(run: BenchRun) -> str:
    quality = f"HQ {run.high_quality:.1%}" if run.high_quality is not None else (
        f"KL {run.kl:.3f}, read {run.read_fraction:.1%}")
    doctor = ", doctor: " + " ".join(run.doctor_events) if run.doctor_events else ", doctor quiet"
    return (f"{run.benchmark:<15} {run.recipe:<12} seed {run.seed}: {run.modes}/{run.modes_total} modes, {quality}"
            f"  ({run.steps} steps, {run.wall_s / 60:.1f} min wall, {run.cpu_s / 60:.1f} CPU min{doctor})")


def format_table(runs: list[BenchRun]) -> str:
    """Mean ± sd over seeds per (benchmark, recipe), beside the published best."""
    lines = [f"{'benchmark':<15} {'recipe':<12} {'seeds':>5}  {'modes':>17}  {'HQ % / KL':>17}  "
             f"{'all modes':>9}  {'CPU min':>7}  published (best)",
             "-" * 112]
    groups: dict[tuple[str, str], list[BenchRun]] = {}
    for run in runs:
        groups.setdefault((run.benchmark, run.recipe), []).append(run)
    for (benchmark, recipe), group in groups.items():
        modes = _mean_sd([r.modes for r in group], 1)
        if group[0].high_quality is not None:
            quality = _mean_sd([100 * r.high_quality for r in group], 1)
        else:
            quality = _mean_sd([r.kl for r in group], 3)
        full = sum(r.modes == r.modes_total for r in group)
        cpu = max(r.cpu_s for r in group) / 60
        lines.append(f"{benchmark:<15} {recipe:<12} {len(group):>5}  {modes:>17}  {quality:>17}  "
                     f"{full:>4}/{len(group):<4}  {cpu:>7.1f}  {PUBLISHED[benchmark]}")
    return "\n".join(lines)


def runs_to_json(runs: list[BenchRun]) -> list[dict]:
    return [asdict(r) for r in runs]
