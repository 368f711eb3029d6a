"""One generic training loop. The recipe step says what one update is; the loop owns everything
else: data order, noise, EMA, logging, sample grids, plots, checkpoints, time budget and resume."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from ganforge.checkpoint import LATEST, save_checkpoint
from ganforge.config import DEFAULT_STEPS, TrainConfig, resolve_config, resume_config
from ganforge.data import ImageDataset
from ganforge.errors import GanforgeError
from ganforge.inference.report import write_report
from ganforge.models import create_model
from ganforge.models.layers import apply_spectral_norm
from ganforge.recipes import recipe_for
from ganforge.runtime import (
    attach_loss_scaler,
    eval_mode,
    is_out_of_memory,
    loss_scaler,
    out_of_memory_message,
    resolve_device,
    resolve_precision,
)
from ganforge.train import distributed
from ganforge.train.category_prior import category_prior
from ganforge.train.coverage import make_coverage_check
from ganforge.train.ema import WeightAverage, ema_beta_at, make_ema
from ganforge.train.events import emit
from ganforge.train.lr_decay import BudgetDecay, apply_lr_decay
from ganforge.train.metrics_log import MetricsLog
from ganforge.train.plots import plot_losses
from ganforge.train.remedies import Remedies
from ganforge.train.resume import is_unstarted, resume_state
from ganforge.train.rollback import Rollback, find_fault
from ganforge.train.signals import StopSignals
from ganforge.train.speed import adam, keep_freed_memory, set_threads
from ganforge.train.sync_bn import convert_sync_batchnorm
from ganforge.train.tensorboard import TensorBoardLog


@dataclass
class TrainResult:
    step: int
    status: str  # "done", "time budget", "interrupted"
    out_dir: Path
    checkpoint: Path


def planned_steps(config: TrainConfig, dataset_size: int) -> int | None:
    """The step limit from --steps / --epochs (the smaller); None when only a time budget is set."""
    limits = []
    if config.total_steps:
        limits.append(config.total_steps)
    if config.epochs:
        limits.append(max(1, math.ceil(config.epochs * dataset_size / config.batch_size)))
    if limits:
        return min(limits)
    return None if config.max_minutes else DEFAULT_STEPS


class Trainer:
    clock: Callable[[], float] = staticmethod(time.monotonic)  # what --max-minutes counts (bench: CPU time)

    def __init__(self, config: TrainConfig, out_dir: Path, resume: bool = False,
                 dataset: ImageDataset | None = None, quiet: bool = False) -> None:
        self.out_dir = Path(out_dir)
        self.quiet = quiet
        if not resume:  # settled and checked before the run folder is touched (config/resolver.py)
            config = resolve_config(config, images=len(dataset) if dataset is not None else None)
        if distributed.launched_by_torchrun() and config.balance in ("skip", "adaptive"):
            # each process would decide from its own losses: one could skip an update the others make and hang
            raise GanforgeError(f"--balance {config.balance} is not supported with several processes (torchrun) yet; "
                                "use --balance fixed or ttur")
        timed = planned_steps(config, dataset_size=1) is None  # only a time budget (the data's size cannot matter)
        if distributed.launched_by_torchrun() and config.lr_decay_start is not None and timed:
            # each process's clock differs: their rates would drift apart and so would their weights
            raise GanforgeError("--lr-decay-start over a time budget is not supported with several processes "
                                "(torchrun); give --steps or --epochs to decay over")
        self.dist = distributed.start()  # rank 0 of 1 unless launched by torchrun (train/distributed.py)
        with self.dist.main_first():
            state = self._prepare_run_dir(resume)
        if state is not None:  # the saved config (flat or in sections), with this call's lengths
            config = resume_config(state["config"], {k: getattr(config, k) for k in ("total_steps", "epochs",
                                                                                     "max_minutes")})
        self.config = cfg = config
        self.device = self.dist.place(resolve_device(cfg.device))
        set_threads(cfg.threads)
        if self.device.type == "cpu":
            keep_freed_memory()  # train/speed.py: no page faults on every step's big tensors
        self.precision = resolve_precision(cfg.precision, self.device)
        recipe = recipe_for(cfg)
        self.dataset = dataset or recipe.load_data(cfg, quiet=quiet)
        self.recipe = recipe(cfg, self.dataset)
        self.recipe.check_data()
        torch.manual_seed(cfg.seed)
        self.G, self.D = create_model(self.recipe.model_name(), **self.recipe.model_args())
        if cfg.spectral_norm:
            apply_spectral_norm(self.D)
        if cfg.sync_bn and self.dist.enabled:
            self.G, self.D = convert_sync_batchnorm(self.G), convert_sync_batchnorm(self.D)
        self.G.to(self.device).to(memory_format=self.recipe.memory_format)
        self.D.to(self.device).to(memory_format=self.recipe.memory_format)
        self.opt_G = adam(self.G.parameters(), cfg.lr_g, (cfg.beta1, cfg.beta2), self.device)
        self.opt_D = adam(self.D.parameters(), cfg.lr_d, (cfg.beta1, cfg.beta2), self.device)
        self.dist.average_gradients(self.optimizers())
        if self.precision == "fp16":
            if self.dist.enabled:  # one rank skipping an overflowed step would leave the others in the all-reduce
                raise GanforgeError("--precision fp16 is not available with several processes; use bf16 or fp32")
            for optimizer in self.optimizers():
                attach_loss_scaler(optimizer, self.device)
        self.G_ema = make_ema(self.G) if cfg.ema_beta > 0 else None
        self.weight_average = WeightAverage(self.G_ema, self.G) if self.G_ema is not None else None
        # issue 3: D's input (augmentation, instance noise, packing), the balance policy and the training doctor
        self.remedies = Remedies(cfg, self.D, self.opt_D)
        self.G_params = list(self.G.parameters())  # for the gradient norms, gathered once
        step_D = self.remedies.d_input if self.recipe.wraps_d else self.D
        self.step_fn = self.recipe.make_step(self.G, step_D, self.opt_G, self.opt_D, self.device, self.precision)
        self.batches = self.recipe.batches(self.device, cfg.batch_size, cfg.seed,
                                           rank=self.dist.rank, world_size=self.dist.world_size)
        self.dist.local_batch_size(cfg.batch_size)  # a clear error when it does not divide over the processes
        self.doctor_real = self.recipe.batches(self.device, cfg.sample_count, cfg.seed + 3).next()[0]  # fixed
        self.coverage_check = make_coverage_check(self.recipe, self.device, cfg.seed)  # classes / 2D modes G covers
        self.noise = torch.Generator(device=self.device).manual_seed(cfg.seed + 1)
        self.sample_inputs = self.recipe.sample_inputs(self.device)
        self.step = 0
        self.total_steps = planned_steps(cfg, len(self.dataset))
        self.rollback = Rollback(cfg.nan_retries, warn=_warn)
        self.evaluator = None
        if cfg.eval_every and self.dist.is_main:  # score every eval_every steps, keep best.pt (train/evaluation.py)
            from ganforge.train.evaluation import TrainingEvaluator

            self.evaluator = TrainingEvaluator(cfg, self.dataset, self.device, self.out_dir, quiet)
        if state is not None and "G" in state:  # without "G": killed before its first checkpoint, start at 0
            self._load_state(state)
        self.dist.broadcast_from_main([self.G, self.D] + ([self.G_ema] if self.G_ema is not None else []))
        if not self.dist.is_main:  # one writer: rank 0
            self.log, self.tensorboard = distributed.NullLog(), None
            return
        self.log = MetricsLog(self.out_dir / "metrics.jsonl", resume_step=self.step if state else None)
        self.tensorboard = (TensorBoardLog(self.out_dir / "tensorboard", resume_step=self.step if state else None)
                            if cfg.tensorboard else None)
        (self.out_dir / "config.json").write_text(cfg.to_json() + "\n")

    # --- run directory and checkpoints -------------------------------------------------------------
    def _prepare_run_dir(self, resume: bool) -> dict[str, Any] | None:
        if resume:
            return resume_state(self.out_dir, warn=_warn if self.dist.is_main else _silent)
        if not self.dist.is_main:  # rank 0 made the run folder
            return None
        if self.out_dir.exists() and any(self.out_dir.iterdir()) and not is_unstarted(self.out_dir):
            raise GanforgeError(f"{self.out_dir}: already holds files; resume it with --resume {self.out_dir} "
                                "or choose a new --out")
        (self.out_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
        (self.out_dir / "samples").mkdir(exist_ok=True)
        return None

    def _category_prior(self) -> list[float] | None:
        """InfoGAN: the data's share of each latent category, which sampling draws by (train/category_prior.py)."""
        if not self.config.latent_classes:  # (only DCGAN takes latent classes: config.validate)
            return None
        return category_prior(self.D, self.dataset.images, self.recipe.memory_format)

    def state_dict(self) -> dict[str, Any]:
        return {
            "recipe": self.recipe.name,
            **self.recipe.checkpoint_extras(),
            "config": self.config.to_json(),
            "model": self.recipe.model_name(),
            "model_args": self.recipe.model_args(),
            "step": self.step,
            "data_position": self.batches.position,
            "G": self.G.state_dict(),
            "D": self.D.state_dict(),
            "G_ema": self.G_ema.state_dict() if self.G_ema is not None else None,
            "category_prior": self._category_prior(),
            "opt_G": self.opt_G.state_dict(),
            "opt_D": self.opt_D.state_dict(),
            "loss_scalers": [scaler.state_dict() for scaler in self._loss_scalers()],
            "rng": {"noise": self.noise.get_state(), "torch": torch.get_rng_state()},
            "rollback": self.rollback.state_dict(),
            "eval": self.evaluator.state_dict() if self.evaluator is not None else None,
            "remedies": self.remedies.state_dict(),
            "recipe_state": self.recipe.state_dict(),
        }

    def _load_state(self, state: dict[str, Any]) -> None:
        self.G.load_state_dict(state["G"])
        self.D.load_state_dict(state["D"])
        if self.G_ema is not None and state.get("G_ema") is not None:
            self.G_ema.load_state_dict(state["G_ema"])
        self.opt_G.load_state_dict(state["opt_G"])
        self.opt_D.load_state_dict(state["opt_D"])
        for scaler, saved in zip(self._loss_scalers(), state.get("loss_scalers") or []):
            scaler.load_state_dict(saved)
        self.noise.set_state(state["rng"]["noise"])
        torch.set_rng_state(state["rng"]["torch"])
        self.step = int(state["step"])
        self.batches.position = int(state["data_position"])
        self.rollback.load_state_dict(state.get("rollback"))
        if self.evaluator is not None and state.get("eval"):
            self.evaluator.load_state_dict(state["eval"])
        self.remedies.load_state_dict(state.get("remedies"), self.step)
        self.recipe.load_state_dict(state.get("recipe_state"))

    def optimizers(self) -> list[torch.optim.Optimizer]:
        return [self.opt_G, self.opt_D]

    def _loss_scalers(self) -> list[torch.amp.GradScaler]:
        """fp16's loss scalers, G's then D's (none in fp32/bf16)."""
        return [s for s in map(loss_scaler, self.optimizers()) if s is not None]

    def _healthy_or_rolled_back(self, sums: dict[str, torch.Tensor]) -> bool:
        """True if losses and weights are finite; otherwise roll back (see train/rollback.py) and say False."""
        self.dist.mean_(sums)  # every rank decides on the same numbers (and logs the global mean)
        fault = find_fault(sums, (self.G, self.D))
        if fault is None:
            return True
        step = self.rollback.roll_back(self, fault)
        if self.tensorboard is not None:
            self.tensorboard.rewind(step)
        return False

    def save(self) -> Path:
        ckpt_dir = self.out_dir / "checkpoints"
        self.dist.check_identical([self.G, self.D])
        if not self.dist.is_main:
            return ckpt_dir / LATEST
        state = self.state_dict()
        path = save_checkpoint(ckpt_dir / LATEST, state)
        if self.step % self.config.checkpoint_every == 0:
            save_checkpoint(ckpt_dir / f"step-{self.step:07d}.pt", state)
        return path

    # --- outputs -------------------------------------------------------------------------------------
    @torch.no_grad()
    def write_samples(self) -> Path | None:
        if not self.dist.is_main:
            return None
        G = self.G_ema if self.G_ema is not None else self.G
        with eval_mode(G):
            images, per_row = self.recipe.sample_grid(G, self.sample_inputs)
        path = self.out_dir / "samples" / f"{self.step:07d}.png"
        self.recipe.save_samples(path, images, per_row, self.remedies.d_input)
        if self.tensorboard is not None and images.ndim == 4:
            self.tensorboard.samples(self.step, images, {"G": self.G, "D": self.D})
        return path

    def evaluate(self) -> None:
        """Score G (the EMA copy when there is one); a new best score saves checkpoints/best.pt."""
        record, is_best = self.evaluator(self.G_ema if self.G_ema is not None else self.G, self.step)
        self.log.write(record)
        self.evaluator.write_table()
        if is_best:
            save_checkpoint(self.out_dir / "checkpoints" / "best.pt", self.state_dict())

    # --- the loop --------------------------------------------------------------------------------------
    def run(self) -> TrainResult:
        cfg = self.config
        start = self.clock()
        deadline = start + cfg.max_minutes * 60 if cfg.max_minutes else math.inf
        timed_decay = cfg.lr_decay_start is not None and self.total_steps is None
        budget_decay = BudgetDecay(cfg.lr_decay_start) if timed_decay else None
        status = "done"
        sums: dict[str, torch.Tensor] = {}
        count, window_start, window_images = 0, time.monotonic(), 0
        bar = tqdm(total=self.total_steps, initial=self.step, unit="step", dynamic_ncols=True,
                   disable=self.quiet or not self.dist.is_main or None, file=sys.stderr)
        if self.step == 0:
            self.write_samples()
            self.save()  # so a crash or a NaN before the first periodic checkpoint has something to return to
        stop = StopSignals().install()  # Ctrl-C / SIGTERM: finish the step, then save (train/signals.py)
        try:
            while self.total_steps is None or self.step < self.total_steps:
                if self.dist.any(stop.requested):
                    status = "interrupted"
                    break
                now = self.clock()
                if self.dist.any(now >= deadline):
                    status = "time budget"
                    break
                if budget_decay is not None:  # --lr-decay-start with only --max-minutes: over the time budget
                    budget_decay(self.optimizers(), (now - start) / (deadline - start))
                else:
                    apply_lr_decay(self.optimizers(), self.step, self.total_steps, cfg.lr_decay_start)
                decision = self.remedies.balance.decide()  # --balance: who is updated this step
                for _ in range(self.remedies.balance.d_steps - 1):  # --d-steps: extra D-only updates
                    self.step_fn(*self._next_batch(), train_g=False)
                stats = self.step_fn(*self._next_batch(), train_d=decision.train_d, train_g=decision.train_g)
                if self.weight_average is not None:
                    self.weight_average(ema_beta_at(self.step, cfg.ema_beta))
                self.step += 1
                emit(self.remedies.after_step(self.step, stats, decision, self.G_params), self.log, self.quiet)
                bar.update(1)
                for key, value in stats.items():  # accumulate on device: no host sync per step
                    # host-side values (augment p, balance flags) join the device's sums: one device to check
                    sums[key] = sums[key] + value if key in sums else value.to(self.device, copy=True)
                count += 1
                window_images += cfg.batch_size
                check = self.step % cfg.log_every == 0 or self.step % cfg.checkpoint_every == 0
                if (check or self.step == self.total_steps) and not self._healthy_or_rolled_back(sums):
                    sums, count, window_start, window_images = {}, 0, time.monotonic(), 0
                    bar.n = self.step
                    continue
                if self.step % cfg.log_every == 0:
                    record = self._log(sums, count, window_images / (time.monotonic() - window_start))
                    bar.set_postfix_str(_progress(record))
                    sums, count, window_start, window_images = {}, 0, time.monotonic(), 0
                if self.step % cfg.sample_every == 0 and self.dist.is_main:
                    self.write_samples()
                    plot_losses(self.log.records, self.out_dir / "loss.png")
                if self.evaluator is not None and self.step % cfg.eval_every == 0:
                    self.evaluate()
                if self.step % cfg.checkpoint_every == 0:
                    self.save()
        finally:
            bar.close()
            stop.restore()
        if not self._healthy_or_rolled_back(sums):
            count = 0
        if count:
            self._log(sums, count, window_images / max(time.monotonic() - window_start, 1e-9))
        path = self.save()
        if self.dist.is_main:
            if self.step % cfg.sample_every:
                self.write_samples()
            plot_losses(self.log.records, self.out_dir / "loss.png")
            self.recipe.finish(self.out_dir)
            if self.tensorboard is not None:
                self.tensorboard.close()
            write_report(self.out_dir)
        self.dist.barrier()  # the others return once rank 0's last checkpoint is on disk
        return TrainResult(self.step, status, self.out_dir, path)

    def _log(self, sums: dict[str, torch.Tensor], count: int, img_per_s: float) -> dict[str, Any]:
        record: dict[str, Any] = {"step": self.step, "epoch": round(self.batches.epoch, 3)}
        record.update({key: float(value) / count for key, value in sums.items()})
        record["time/img_per_s"] = img_per_s
        events = self.remedies.examine(record, self.recipe, self.G, self.sample_inputs, self.doctor_real,
                                       self.coverage_check, self.G_ema)
        self.log.write(record)
        emit(events, self.log, self.quiet)
        if self.tensorboard is not None:
            self.tensorboard.scalars(record)
        return record

    def _next_batch(self) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """(real, z, labels) for one step."""
        real, labels = self.batches.next()
        real = real.contiguous(memory_format=self.recipe.memory_format)
        z = self.dist.shard(self.recipe.noise(self.config.batch_size, self.noise, self.device))  # global batch's
        return real, z, labels


def _progress(record: dict[str, Any]) -> str:
    """The progress bar's summary of one log record (recipes log different keys)."""
    shown = [("loss/D", "D", ".3f"), ("loss/G", "G", ".3f"), ("loss/L1", "L1", ".3f"), ("D/real_prob", "D(x)", ".2f"),
             ("D/fake_prob", "D(G(z))", ".2f"), ("time/img_per_s", "img/s", ".0f")]
    return " ".join(f"{label} {record[key]:{spec}}" for key, label, spec in shown if key in record)


def _warn(message: str) -> None:
    tqdm.write(message, file=sys.stderr)


def _silent(message: str) -> None:
    """Ranks other than 0 say nothing: rank 0 already said it."""


def train(config: TrainConfig, out_dir: str | Path, resume: bool = False, quiet: bool = False) -> TrainResult:
    """Train (or resume) a run in out_dir; returns where it stopped and why."""
    trainer = None
    try:
        trainer = Trainer(config, Path(out_dir), resume=resume, quiet=quiet)
        return trainer.run()
    except (RuntimeError, MemoryError) as err:  # torch.cuda.OutOfMemoryError is a RuntimeError
        if not is_out_of_memory(err):
            raise
        device = trainer.device if trainer else config.device
        batch, step = (trainer.config.batch_size, trainer.step) if trainer else (None, None)
        raise GanforgeError(out_of_memory_message(device, batch, step)) from None
