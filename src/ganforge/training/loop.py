"""One generic training loop. The recipe step says what one update is; the run (training/run.py) holds what is
trained; the run folder (training/run_folder.py) holds its files; the loop steps, and its periodic work (log,
sample grid, plots, evaluation, checkpoint) is a list of scheduled actions (training/schedule.py)."""

from __future__ import annotations

import contextlib
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from ganforge.accel import AccelPolicy
from ganforge.config import DEFAULT_STEPS, TrainConfig
from ganforge.config.train_config import DEFAULT_CHECKPOINT_EVERY, DEFAULT_SAMPLE_EVERY
from ganforge.data import ImageDataset
from ganforge.errors import GanforgeError
from ganforge.runtime import eval_mode, is_out_of_memory, out_of_memory_message
from ganforge.threads import auto_chooser
from ganforge.training import distributed
from ganforge.training.data_identity import check_same_data, data_summary
from ganforge.training.ema import ema_beta_at
from ganforge.training.events import emit
from ganforge.training.init_from import init_networks, load_init_source
from ganforge.training.lr_decay import BudgetDecay, apply_lr_decay
from ganforge.training.plots import plot_losses
from ganforge.training.progress_lines import ProgressLines, format_duration
from ganforge.training.rollback import Rollback, find_fault
from ganforge.training.run import Run, build_run, check_request, run_config
from ganforge.training.run_folder import RunFolder, RunFolderError
from ganforge.training.schedule import Schedule, Scheduled
from ganforge.training.signals import StopSignals
from ganforge.training.speed import process_settings
from ganforge.training.time_budget import TimeBudget
from ganforge.training.time_plan import Plan, TimePlanner


@dataclass
class TrainResult:
    step: int
    status: str  # "done", "time budget", "interrupted", "complete" (resumed at its end: nothing to do)
    out_dir: Path
    checkpoint: Path
    message: str = ""  # for "complete": why, and how to train further


class LogWindow:
    """The step statistics summed on the device since the last log record: no host sync per step."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.reset()

    def reset(self) -> None:
        self.sums: dict[str, torch.Tensor] = {}
        self.count, self.images, self.start = 0, 0, time.monotonic()

    def add(self, stats: dict[str, torch.Tensor], images: int) -> None:
        for key, value in stats.items():
            # host-side values (augment p, balance flags) join the device's sums: one device to check
            self.sums[key] = self.sums[key] + value if key in self.sums else value.to(self.device, copy=True)
        self.count += 1
        self.images += images

    def means(self) -> dict[str, float]:
        return {key: float(value) / self.count for key, value in self.sums.items()}

    def images_per_second(self) -> float:
        return self.images / max(time.monotonic() - self.start, 1e-9)


def _to_run(name: str) -> property:
    """An attribute of the built run, read and set through the Trainer (tests and benchmarks swap the step)."""
    return property(lambda self: getattr(self.built, name), lambda self, value: setattr(self.built, name, value))


class Trainer:
    """Builds a run in its folder (a new one, or resumed) and trains it: `Trainer(config, out_dir).run()`."""

    clock: Callable[[], float] = staticmethod(time.monotonic)  # what --max-minutes counts (bench: CPU time)

    config = _to_run("config")
    dataset = _to_run("dataset")
    recipe = _to_run("recipe")
    device = _to_run("device")
    precision = _to_run("precision")
    G = _to_run("G")
    D = _to_run("D")
    G_ema = _to_run("G_ema")
    weight_average = _to_run("weight_average")
    opt_G = _to_run("opt_G")
    opt_D = _to_run("opt_D")
    remedies = _to_run("remedies")
    step_fn = _to_run("step_fn")
    batches = _to_run("batches")
    noise = _to_run("noise")
    sample_inputs = _to_run("sample_inputs")
    doctor_real = _to_run("doctor_real")
    coverage_check = _to_run("coverage_check")
    step = _to_run("step")
    total_steps = _to_run("total_steps")

    def __init__(self, config: TrainConfig, out_dir: str | Path, resume: bool = False,
                 dataset: ImageDataset | None = None, quiet: bool = False, accel: AccelPolicy | None = None) -> None:
        self.quiet = quiet
        request = config
        config = check_request(config, resume, dataset)
        self.dist = distributed.start()  # rank 0 of 1 unless launched by torchrun (training/distributed.py)
        warn = _warn if self.dist.is_main else _silent
        self.folder = RunFolder(out_dir, self.dist.is_main, warn=warn)
        with self.dist.main_first():
            state = self.folder.open(resume)
        config, dataset = run_config(config, state, dataset, quiet)
        self.data_summary = data_summary(dataset)
        checkpointed = state is not None and "G" in state  # without "G": killed before its first checkpoint
        if checkpointed:  # before the networks are built: a conditional run's classes must still fit them
            check_same_data(state.get("data"), self.data_summary, config.data, config.conditional,
                            int(state["step"]), warn)
        self.built: Run = build_run(config, dataset, self.dist, accel)
        if config.init_from and not checkpointed:  # fine-tuning from another run's weights (training/init_from.py)
            source, saved = load_init_source(config.init_from)
            init_networks(source, saved, self.G, self.D, self.G_ema)
            if not quiet:
                warn(f"starting from the weights of {source} (trained {int(saved.get('step', 0))} steps); optimisers "
                     "and counters start fresh")
        self.rollback = Rollback(config.nan_retries, warn=_warn)
        self.budget = TimeBudget.for_run(config, state, renewed=request.given().get("max_minutes") is not None)
        self.evaluator = None
        if config.eval_every and self.dist.is_main:  # score every eval_every steps, keep best.pt
            from ganforge.training.evaluation import TrainingEvaluator

            self.evaluator = TrainingEvaluator(config, dataset, self.device, self.folder.path, quiet)
        if checkpointed:
            self.restore(state)
        self.saved_step = int(state["step"]) if checkpointed else None  # the step latest.pt holds
        self.complete = self._already_complete() if checkpointed else None
        if self.complete is None:
            self.dist.broadcast_from_main([self.G, self.D] + ([self.G_ema] if self.G_ema is not None else []))
            self.folder.start_logs(config, resume_step=self.step if state else None)
            auto_line = getattr(config, "auto_line", None) or getattr(request, "auto_line", None)
            if state is None and auto_line:  # what --preset auto chose, and why (config/auto.py)
                self.folder.write_note("auto.txt", auto_line)
            if state is not None:
                warn(f"training {self._plan()}")
        self.schedule = Schedule(self._actions())
        self.window = LogWindow(self.device)
        self.bar: tqdm | ProgressLines | None = None

    @property
    def out_dir(self) -> Path:
        return self.folder.path

    @property
    def log(self) -> Any:
        return self.folder.log

    def _actions(self) -> list[Scheduled]:
        """The periodic work, in the order it runs at a step."""
        cfg, main, writes = self.config, self.dist.is_main, self._writing
        sample_every = cfg.sample_every or DEFAULT_SAMPLE_EVERY  # None until a time plan spaces them
        actions = [Scheduled("log", cfg.log_every, writes("metrics.jsonl", self._log), at_end=True, checked=True)]
        if main:
            actions += [Scheduled("samples", sample_every, writes("the sample grid", self.write_samples),
                                  at_start=True, at_end=True),
                        Scheduled("plot", sample_every, writes("loss.png", self._plot))]
        if self.evaluator is not None:
            actions.append(Scheduled("evaluate", cfg.eval_every, writes("the evaluation", self.evaluate)))
        # at the start too: a crash or a NaN before the first periodic checkpoint has something to return to
        actions.append(Scheduled("checkpoint", self._checkpoint_every(), self.save, at_start=True, at_end=True,
                                 checked=True))
        if main:
            actions.append(Scheduled("finish", 0, writes("the end-of-run files", self._finish), at_end=True))
        return actions

    def _writing(self, what: str, action: Callable[[int], object]) -> Callable[[int], object]:
        """The action, with a failed write reported as one line naming `what` (RunFolder.writing)."""
        def guarded(step: int) -> object:
            with self.folder.writing(what):
                return action(step)

        return guarded

    def _already_complete(self) -> str | None:
        """For a resumed run that has reached its length: why, and how to train further; else None."""
        cfg, step, total = self.config, self.step, self.total_steps
        again = f"ganforge train --resume {self.folder.path}"
        if total is not None and step >= total:
            if cfg.total_steps and step >= cfg.total_steps:
                reached, more = f"its --steps {cfg.total_steps}", f"--steps {2 * cfg.total_steps}"
            elif cfg.epochs:
                reached, more = f"its --epochs {cfg.epochs:g}", f"--epochs {2 * cfg.epochs:g}"
            else:
                reached, more = f"the default length of {DEFAULT_STEPS} steps", f"--steps {2 * DEFAULT_STEPS}"
        elif self.budget.left() == 0:
            reached = f"the end of its {self.budget.minutes:g}-minute time budget"
            more = f"--max-minutes {self.budget.minutes:g}"
        else:
            return None
        return (f"{self.folder.path}: already complete at step {step} (it reached {reached}); nothing to do. "
                f"To train further, give a new length: {again} {more}")

    def _plan(self) -> str:
        """How long this invocation trains, e.g. 'until step 8000' or 'for the 12.5 minutes left of ...'."""
        parts = [f"until step {self.total_steps}"] if self.total_steps is not None else []
        if self.budget.ends_at is not None:
            parts.append(self.budget.describe())
        return (" or ".join(parts) + (", whichever comes first" if len(parts) > 1 else "")) or "without a limit"

    # --- checkpoints ---------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {**self.built.state_dict(), "rollback": self.rollback.state_dict(),
                "eval": self.evaluator.state_dict() if self.evaluator is not None else None,
                "data": self.data_summary, "time_budget": self.budget.state_dict()}

    def restore(self, state: dict[str, Any]) -> None:
        """Continue from a checkpoint's state: the run's, the rollback counters and the best score so far."""
        self.built.restore(state)
        self.rollback.load_state_dict(state.get("rollback"))
        if self.evaluator is not None and state.get("eval"):
            self.evaluator.load_state_dict(state["eval"])

    def optimizers(self) -> list[torch.optim.Optimizer]:
        return self.built.optimizers()

    def save(self, step: int | None = None) -> Path:
        self.dist.check_identical([self.G, self.D])
        if not self.dist.is_main:
            return self.folder.latest
        path = self.folder.save(self.state_dict(), keep=self.step % self._checkpoint_every() == 0)
        self.saved_step = self.step
        return path

    def _checkpoint_every(self) -> int:
        return self.config.checkpoint_every or DEFAULT_CHECKPOINT_EVERY  # None until a time plan spaces them

    def _healthy_or_rolled_back(self) -> bool:
        """True if losses and weights are finite; otherwise roll back (see training/rollback.py) and say False."""
        self.dist.mean_(self.window.sums)  # every rank decides on the same numbers (and logs the global mean)
        fault = find_fault(self.window.sums, (self.G, self.D))
        if fault is None:
            return True
        self.rollback.roll_back(self, self.folder, fault)
        self.schedule.forget()
        self.window.reset()
        return False

    # --- scheduled work ------------------------------------------------------------------------------
    @torch.no_grad()
    def write_samples(self, step: int | None = None) -> Path | None:
        if not self.dist.is_main:
            return None
        G = self.built.sampler
        with eval_mode(G):
            images, per_row = self.recipe.sample_grid(G, self.sample_inputs)
        path = self.folder.sample_path(self.step)
        self.recipe.save_samples(path, images, per_row, self.remedies.d_input)
        if self.folder.tensorboard is not None and images.ndim == 4:
            self.folder.tensorboard.samples(self.step, images, {"G": self.G, "D": self.D})
        return path

    def _plot(self, step: int) -> None:
        plot_losses(self.log.records, self.folder.path / "loss.png")

    def evaluate(self, step: int | None = None) -> None:
        """Score G (the EMA copy when there is one); a new best score saves checkpoints/best.pt."""
        record, is_best = self.evaluator(self.built.sampler, self.step)
        self.log.write(record)
        self.evaluator.write_table()
        if is_best:
            self.folder.save_best(self.state_dict())
        emit(self.evaluator.advise(record), self.log, self.quiet)  # the stop advice (training/stop_advice.py)

    def _log(self, step: int) -> None:
        """A metrics record of the steps since the last one, with the doctor's check (none when there were none)."""
        window, run = self.window, self.built
        if not window.count:
            return
        record: dict[str, Any] = {"step": self.step, "epoch": round(run.batches.epoch, 3)}
        record.update(window.means())
        record["time/img_per_s"] = window.images_per_second()
        record["time/threads"] = torch.get_num_threads()
        events = run.remedies.examine(record, run.recipe, run.G, run.sample_inputs, run.doctor_real,
                                      run.coverage_check, run.G_ema)
        self.log.write(record)
        emit(events, self.log, self.quiet)
        if self.folder.tensorboard is not None:
            self.folder.tensorboard.scalars(record)
        if self.bar is not None:
            self.bar.set_postfix_str(_progress(record))
        window.reset()

    def _finish(self, step: int) -> None:
        self._plot(step)
        self.recipe.finish(self.folder.path)
        self.folder.close()

    # --- the loop --------------------------------------------------------------------------------------
    def run(self) -> TrainResult:
        """Train until the step limit, the time budget or a stop signal; then the end-of-run work."""
        with self.built.rng.active():  # the run's own RNG stream; the process's is back afterwards
            return self._run()

    def _run(self) -> TrainResult:
        if self.complete is not None:  # resumed at its end: nothing is trained or written
            return TrainResult(self.step, "complete", self.folder.path, self.folder.latest, self.complete)
        try:
            with self.folder.writing("the run's files"):  # what no action below names (events, rollbacks)
                return self._train()
        except RunFolderError as err:
            raise RunFolderError(f"{err}; {self._keep_progress()}") from None

    def _keep_progress(self) -> str:
        """After a failed write: save what has been trained if the folder still takes it, and say what is kept."""
        if not self.folder.path.is_dir():
            return f"stopped at step {self.step}"  # deleted by someone: nothing is written again
        again = f"continue with: ganforge train --resume {self.folder.path}"
        unsaved = self.saved_step != self.step and find_fault({}, (self.G, self.D)) is None  # never save a NaN
        if unsaved and self.folder.checkpoints.is_dir():
            try:
                self.save()
                return f"stopped at step {self.step}, saved in {self.folder.latest}; {again}"
            except GanforgeError:
                pass  # the same trouble: what was saved before stays as it was
        if self.saved_step is None:
            return f"stopped at step {self.step}; no checkpoint was saved"
        return f"stopped at step {self.step}; {self.folder.latest} (step {self.saved_step}) is kept; {again}"

    def _train(self) -> TrainResult:
        run, cfg = self.built, self.config
        start, spent_before = self.clock(), self.budget.spent
        left = self.budget.left()
        deadline = start + left if left is not None else math.inf
        timed_decay = cfg.lr_decay_start is not None and run.total_steps is None
        budget_decay = BudgetDecay(cfg.lr_decay_start) if timed_decay else None
        # only a time budget: the first steps' speed plans the cadence and the progress bar (training/time_plan.py);
        # not under torchrun, where each process's clock would plan another cadence and their checkpoints would hang
        timed_alone = run.total_steps is None and left and not distributed.launched_by_torchrun()
        planner = TimePlanner(cfg, left) if timed_alone else None
        first_step = run.step
        status = "done"
        self.window.reset()
        self.bar = _progress_bar(run.total_steps, run.step, silent=self.quiet or not self.dist.is_main)
        threads_before = torch.get_num_threads()
        chooser = auto_chooser(announce=None if self.quiet or not self.dist.is_main else _warn) \
            if cfg.threads == 0 and self.device.type == "cpu" else None  # --threads 0: the fastest count, timed
        if run.step == 0:
            self.schedule.start(run.step)
        if hasattr(getattr(run.recipe, "schedule", None), "use_clock"):  # a recipe's own curve over the budget
            run.recipe.schedule.use_clock(self.clock)
        stop = StopSignals().install()  # Ctrl-C / SIGTERM: finish the step, then save (training/signals.py)
        try:
            while run.total_steps is None or run.step < run.total_steps:
                if self.dist.any(stop.requested):
                    status = "interrupted"
                    break
                now = self.clock()
                self.budget.spent = spent_before + (now - start)
                if self.dist.any(now >= deadline):
                    status = "time budget"
                    break
                if deadline != math.inf:
                    self.bar.set_description_str(f"{format_duration(deadline - now)} left", refresh=False)
                if planner is not None and run.step > first_step:
                    self._follow_plan(planner.observe(run.step, now - start))
                if budget_decay is not None:  # --lr-decay-start with only --max-minutes: over the time budget
                    budget_decay(run.optimizers(), (now - start) / (deadline - start))
                else:
                    apply_lr_decay(run.optimizers(), run.step, run.total_steps, cfg.lr_decay_start)
                with chooser.unit() if chooser is not None else contextlib.nullcontext():
                    stats = self._train_step()
                self.window.add(stats, cfg.batch_size)
                self.bar.update(1)
                due = self.schedule.due(run.step)
                checked = any(action.checked for action in due) or run.step == run.total_steps
                if checked and not self._healthy_or_rolled_back():
                    self.bar.n = run.step
                    continue
                self.schedule.run(due, run.step)
        finally:
            self.bar.close()
            stop.restore()
            torch.set_num_threads(threads_before)  # what the chooser picked was for this loop's steps
        self.budget.spent = spent_before + (self.clock() - start)
        self._healthy_or_rolled_back()
        self.schedule.end(run.step)
        self.dist.barrier()  # the others return once rank 0's last checkpoint is on disk
        return TrainResult(run.step, status, self.folder.path, self.folder.latest)

    def _follow_plan(self, plan: Plan | None) -> None:
        """Space the sample grids and checkpoints over the steps the budget will give; the bar counts to them."""
        if plan is None:
            return
        self.built.config = replace(self.config, sample_every=plan.sample_every,
                                    checkpoint_every=plan.checkpoint_every)
        for action in self.schedule.actions:
            if action.name in ("samples", "plot"):
                action.every = plan.sample_every
            elif action.name == "checkpoint":
                action.every = plan.checkpoint_every
        self.bar.total = plan.steps
        self.bar.refresh()
        if self.dist.is_main and not self.quiet:
            _warn(plan.line(self.config))

    def _train_step(self) -> dict[str, torch.Tensor]:
        """One step: the D-only updates --d-steps asks for, then the update --balance decides, then the EMA."""
        run = self.built
        decision = run.remedies.balance.decide()
        for _ in range(run.remedies.balance.d_steps - 1):
            run.step_fn(*run.next_batch(), train_g=False)
        stats = run.step_fn(*run.next_batch(), train_d=decision.train_d, train_g=decision.train_g)
        if run.weight_average is not None:
            run.weight_average(ema_beta_at(run.step, run.config.ema_beta))
        run.step += 1
        emit(run.remedies.after_step(run.step, stats, decision, run.G_params), self.log, self.quiet)
        return stats

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """(real, z, labels) for one step."""
        return self.built.next_batch()


def _progress(record: dict[str, Any]) -> str:
    """The progress bar's summary of one log record (recipes log different keys)."""
    shown = [("loss/D", "D", ".3f"), ("loss/G", "G", ".3f"), ("loss/L1", "L1", ".3f"), ("D/real_prob", "D(x)", ".2f"),
             ("D/fake_prob", "D(G(z))", ".2f"), ("time/img_per_s", "img/s", ".0f")]
    return " ".join(f"{label} {record[key]:{spec}}" for key, label, spec in shown if key in record)


def _progress_bar(total: int | None, initial: int, silent: bool) -> tqdm | ProgressLines:
    """tqdm's bar on a terminal; elsewhere (CI, nohup, a log file) a plain line every log record or so."""
    if not silent and not sys.stderr.isatty():
        return ProgressLines(total, initial, file=sys.stderr)
    return tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True, disable=silent, file=sys.stderr)


def _warn(message: str) -> None:
    tqdm.write(message, file=sys.stderr)


def _silent(message: str) -> None:
    """Ranks other than 0 say nothing: rank 0 already said it."""


def train(config: TrainConfig, out_dir: str | Path, resume: bool = False, quiet: bool = False,
          dataset: ImageDataset | None = None) -> TrainResult:
    """Train (or resume) a run in out_dir; returns where it stopped and why.

    Also makes the process-wide settings the run asks for (training/speed.py: process_settings)."""
    trainer = None
    try:
        trainer = Trainer(config, Path(out_dir), resume=resume, dataset=dataset, quiet=quiet)
        process_settings(trainer.config, trainer.device)
        return trainer.run()
    except (RuntimeError, MemoryError) as err:  # torch.cuda.OutOfMemoryError is a RuntimeError
        if not is_out_of_memory(err):
            raise
        device = trainer.device if trainer else config.device
        batch, step = (trainer.config.batch_size, trainer.step) if trainer else (None, None)
        raise GanforgeError(out_of_memory_message(device, batch, step)) from None
