"""Time to a good model: training CPU time until a run first reaches a quality threshold, per recipe and seed.

    python benchmarks/time_to_quality.py --tasks ring grid digits --seeds 0 1 2          # recommended vs plain
    python benchmarks/time_to_quality.py --tasks stacked-digits --seeds 0 1 2 --presets recommended
    python benchmarks/time_to_quality.py --tasks digits --seeds 0 --presets recommended --json ttq.json
    python benchmarks/time_to_quality.py --tasks tuxpaint --seeds 0 1 2 --presets auto plain   # a real folder

Each (task, preset, seed) is one training run, the way its command runs it (digits: the README's main command,
`--preset recommended --steps 4000`; ring, grid and stacked digits: `ganforge bench modes`' settings and CPU-time
budgets), saving a checkpoint every `--every` steps. Each checkpoint is scored as it is saved, and the run stops at
the first that passes; its time is the training process's CPU seconds from the first step to that save, scoring
left out: with `--threads 1` (the default) that is the wall time an idle core would take, and it does not grow
when other programs share the machine (wall seconds are printed beside it). The tests:

- digits: >= 90% of 1,000 samples (seed 0, EMA generator) read with probability >= 0.9 by the independent
  classifier, all 10 digits among them (benchmarks/digits_quality.py's test);
- ring, grid: every mode captured and >= 95% high-quality samples (2,500 points; training/mode_benchmarks.py);
- stacked-digits: all 1,000 modes and KL to uniform <= 0.1 (26,000 samples; training/mode_benchmarks.py);
- tuxpaint (a real folder: Debian's `tuxpaint-stamps-default`, ~800 drawings in 17 category folders, 64 px, a 20
  CPU-minute budget), shapes-64: 1,000 samples (seed 0) nearer the held-out real images than those images blurred
  by a 2-pixel Gaussian, by KID in the folder's own features (metrics/own_features.py: a small classifier trained
  on the rest of the folder's images, on its categories). Farther than the blur is not yet a recognisable picture.

Reported per (task, preset): seeds that reached the threshold, the median CPU time to it and its range; a seed that
never reached it within its run says so (no time). `plain` is the textbook DCGAN / MLP-GAN setting
(config/presets.py), run under the same length or budget. The time resolution is one checkpoint interval.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from ganforge.config import resolve_config
from ganforge.runtime import torch_threads
from ganforge.training.loop import Trainer, TrainResult
from ganforge.training.mode_benchmarks import _score as score_modes
from ganforge.training.speed import process_settings

sys.path.insert(0, str(Path(__file__).parent))
from folder_scoring import TUXPAINT  # noqa: E402  (Debian's tuxpaint-stamps-default)


@dataclass(frozen=True)
class Task:
    data: str
    length: dict  # total_steps or max_minutes (CPU minutes), as its command runs it
    every: int  # default checkpoint interval in steps


TASKS = {
    "digits": Task("digits", {"total_steps": 4000}, 200),
    "ring": Task("ring", {"max_minutes": 3.0}, 1000),
    "grid": Task("grid", {"max_minutes": 3.0}, 1000),
    "stacked-digits": Task("stacked-digits", {"max_minutes": 20.0}, 1000),
    "tuxpaint": Task(str(TUXPAINT), {"max_minutes": 20.0, "resolution": 64}, 100),
    "shapes-64": Task("shapes", {"max_minutes": 10.0, "resolution": 64}, 100),
}
FOLDER_TASKS = ("tuxpaint", "shapes-64")


class TimedTrainer(Trainer):
    """The Trainer, scoring each checkpoint it saves and stopping at the first that passes.

    Its clocks leave the scoring out: the CPU and wall seconds spent scoring are subtracted, both from the times
    noted at each checkpoint and from the clock a CPU-minute budget counts."""

    def __init__(self, verdict: Callable[[Path], tuple[bool, str]], *args: object, **kwargs: object) -> None:
        self.verdict = verdict
        self.saved_at: dict[int, tuple[float, float]] = {}  # step -> (CPU s, wall s) of training
        self.scores: list[str] = []
        self.reached: int | None = None
        self.scoring = [0.0, 0.0]  # CPU and wall seconds spent scoring
        self.started = (time.process_time(), time.monotonic())
        super().__init__(*args, **kwargs)
        self.clock = self.training_cpu  # a --max-minutes budget counts training CPU time, as `bench modes` does

    def training_cpu(self) -> float:
        return time.process_time() - self.scoring[0]

    def run(self) -> TrainResult:
        self.started = (time.process_time(), time.monotonic())  # from the first step: building is not timed
        return super().run()

    def save(self, step: int | None = None) -> Path:
        path = super().save(step)
        if self.step in self.saved_at or self.reached is not None:
            return path  # the end-of-run save of a step already scored
        cpu = time.process_time() - self.started[0] - self.scoring[0]
        wall = time.monotonic() - self.started[1] - self.scoring[1]
        self.saved_at[self.step] = (cpu, wall)
        if self.step > 0:
            self._score(path)
        return path

    def _score(self, latest: Path) -> None:
        cpu, wall = time.process_time(), time.monotonic()
        with torch.random.fork_rng():  # scoring draws no numbers from the training's stream
            passed, summary = self.verdict(latest)
        self.scores.append(f"{self.step}: {summary}")
        if passed:
            self.reached = self.step
            self.total_steps = self.step  # stop here: the loop ends after this step
        self.scoring[0] += time.process_time() - cpu
        self.scoring[1] += time.monotonic() - wall


def digits_verdict(checkpoint: Path) -> tuple[bool, str]:
    from ganforge.inference.sampling import load_generator, sample_images
    from ganforge.metrics.digit_classifier import load_digit_classifier, read_digits

    report = read_digits(load_digit_classifier().model, sample_images(load_generator(checkpoint), 1000, seed=0)[0])
    return report.confident_fraction >= 0.9 and report.classes_found == 10, (
        f"{report.confident_fraction:.1%} read, {report.classes_found}/10 digits")


def modes_verdict(task: str) -> Callable[[Path], tuple[bool, str]]:
    def verdict(checkpoint: Path) -> tuple[bool, str]:
        score = score_modes(task, checkpoint)
        every_mode = score["modes"] == score["modes_total"]
        if task == "stacked-digits":
            return every_mode and score["kl"] <= 0.1, f"{score['modes']}/1000 modes, KL {score['kl']:.3f}"
        return every_mode and score["high_quality"] >= 0.95, (
            f"{score['modes']}/{score['modes_total']} modes, HQ {score['high_quality']:.1%}")

    return verdict


def folder_verdict(data: str, resolution: int) -> Callable[[Path], tuple[bool, str]]:
    """KID of 1,000 samples against held-out real images, in the folder's own features, below the 2-px blur's: the
    training loop's own scorer (`--eval-extractor data`, training/evaluation.py)."""
    from ganforge.data import load_dataset
    from ganforge.inference.sampling import load_generator
    from ganforge.training.evaluation import OwnKid

    config = resolve_config(dict(data=data, resolution=resolution, eval_samples=1000, seed=0))
    scorer = OwnKid(config, load_dataset(data, resolution, 3, quiet=True), torch.device("cpu"), quiet=True)
    blurred = scorer.own.blurred
    print(f"{data}: floor KID x1000 {1000 * scorer.own.floor:.2f}, 2-px blur {1000 * blurred:.2f}", flush=True)

    def verdict(checkpoint: Path) -> tuple[bool, str]:
        loaded = load_generator(checkpoint)
        value = scorer(loaded.G, loaded.latent_dim, step=0)["eval/kid"]
        return value <= blurred, f"KID x1000 {1000 * value:.2f} (blur {1000 * blurred:.2f})"

    return verdict


def task_verdict(task: str) -> Callable[[Path], tuple[bool, str]]:
    if task == "digits":
        return digits_verdict
    if task in FOLDER_TASKS:
        spec = TASKS[task]
        return folder_verdict(spec.data, spec.length["resolution"])
    return modes_verdict(task)


@dataclass
class Result:
    task: str
    preset: str
    seed: int
    steps: int  # trained in all
    cpu_s: float  # training CPU seconds in all
    reached_step: int | None = None
    reached_cpu_s: float | None = None
    reached_wall_s: float | None = None
    scores: list[str] = field(default_factory=list)  # "step: verdict" of every checkpoint scored


def run_one(task: str, preset: str, seed: int, args: argparse.Namespace, root: Path) -> Result:
    spec = TASKS[task]
    # the checkpoint interval is given, so a time budget's plan (a handful a run) does not coarsen the clock
    settings = {"data": spec.data, "preset": preset, "seed": seed, "threads": args.threads,
                "checkpoint_every": args.every or spec.every, "eval_every": 0, **spec.length}
    if args.minutes is not None:
        settings = {**{k: v for k, v in settings.items() if k != "total_steps"}, "max_minutes": args.minutes}
    out = root / f"{task}-{preset}-seed{seed}"
    with torch_threads(args.threads):
        verdict = task_verdict(task)
        trainer = TimedTrainer(verdict, resolve_config(settings), out, quiet=True)
        process_settings(trainer.config, trainer.device)
        if trainer.run().status == "interrupted":  # Ctrl-C / SIGTERM stops the whole benchmark, not one run
            raise KeyboardInterrupt
    result = Result(task, preset, seed, trainer.step, max(cpu for cpu, _ in trainer.saved_at.values()),
                    scores=trainer.scores)
    if trainer.reached is not None:
        result.reached_step = trainer.reached
        result.reached_cpu_s, result.reached_wall_s = trainer.saved_at[trainer.reached]
    if not args.keep:
        shutil.rmtree(out, ignore_errors=True)
    return result


def describe(result: Result) -> str:
    reached = (f"reached at step {result.reached_step}: {result.reached_cpu_s / 60:.2f} CPU min "
               f"({result.reached_wall_s / 60:.2f} min wall)" if result.reached_step is not None
               else f"not reached in {result.steps} steps ({result.cpu_s / 60:.1f} CPU min)")
    return f"{result.task:<15} {result.preset:<12} seed {result.seed}: {reached}; last scored {result.scores[-1]}"


def table(results: list[Result]) -> str:
    lines = [f"{'task':<15} {'preset':<12} {'reached':>8}  {'median CPU min':>14}  {'range':>13}", "-" * 70]
    groups: dict[tuple[str, str], list[Result]] = {}
    for result in results:
        groups.setdefault((result.task, result.preset), []).append(result)
    for (task, preset), group in groups.items():
        times = [r.reached_cpu_s / 60 for r in group if r.reached_cpu_s is not None]
        median = f"{statistics.median(times):.2f}" if times else "-"
        spread = f"{min(times):.2f}-{max(times):.2f}" if times else "-"
        lines.append(f"{task:<15} {preset:<12} {len(times):>3}/{len(group):<4}  {median:>14}  {spread:>13}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=["ring", "grid", "digits"], choices=list(TASKS))
    parser.add_argument("--presets", nargs="+", default=["recommended", "plain"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--every", type=int, help="checkpoint interval in steps (default: per task)")
    parser.add_argument("--minutes", type=float, help="a CPU-minute budget per run instead of the task's length")
    parser.add_argument("--out", type=Path, help="where the runs go (default: a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the run folders")
    parser.add_argument("--json", type=Path, help="also write every result here")
    args = parser.parse_args()
    if "tuxpaint" in args.tasks and not TUXPAINT.is_dir():
        parser.error(f"{TUXPAINT} not found: sudo apt-get install tuxpaint-stamps-default")
    root = args.out or Path(tempfile.mkdtemp(prefix="time-to-quality-"))
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; threads {args.threads}; "
          "times are training CPU seconds (scoring excluded)", flush=True)
    results = []
    for task in args.tasks:
        for preset in args.presets:
            for seed in args.seeds:
                result = run_one(task, preset, seed, args, root)
                results.append(result)
                print(describe(result), flush=True)
                if args.json:
                    args.json.write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n")
    print("\n" + table(results))
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.out is None and not args.keep:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
