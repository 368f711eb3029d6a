"""One generic training loop. The recipe step says what one update is; the loop owns everything
else: data order, noise, EMA, logging, sample grids, plots, checkpoints, time budget and resume."""

from __future__ import annotations

import json
import math
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from ganforge.checkpoint import LATEST, load_checkpoint, save_checkpoint
from ganforge.config import DEFAULT_STEPS, TrainConfig
from ganforge.data import ImageDataset, load_dataset
from ganforge.data.batches import BatchStream
from ganforge.data.points import is_point_data, load_points
from ganforge.errors import GanforgeError
from ganforge.images import save_grid
from ganforge.models import create_model
from ganforge.models.layers import apply_spectral_norm
from ganforge.recipes.gan import GANStep
from ganforge.report import write_report
from ganforge.runtime import resolve_device, resolve_precision
from ganforge.train import plots2d
from ganforge.train.ema import ema_beta_at, make_ema, update_ema
from ganforge.train.events import emit
from ganforge.train.metrics_log import MetricsLog
from ganforge.train.plots import plot_losses
from ganforge.train.remedies import Remedies, resolve_augment
from ganforge.train.tensorboard import TensorBoardLog

NATURAL_RESOLUTION = {"digits": 32, "shapes": 32, "stacked-digits": 16}
NATURAL_CHANNELS = {"digits": 1}


@dataclass
class TrainResult:
    step: int
    status: str  # "done", "time budget", "interrupted"
    out_dir: Path
    checkpoint: Path


class _Stop(Exception):
    """Raised from a signal handler (SIGTERM) to stop like Ctrl-C does."""


def fill_defaults(config: TrainConfig) -> TrainConfig:
    """Resolve data-dependent defaults so the saved config says exactly what ran."""
    if is_point_data(config.data):
        return config  # 2D points have no resolution or channels
    resolution = config.resolution or NATURAL_RESOLUTION.get(config.data, 64)
    channels = config.channels or NATURAL_CHANNELS.get(config.data, 3)
    return replace(config, resolution=resolution, channels=channels)


def model_args(config: TrainConfig) -> dict[str, Any]:
    """The config values the model's builder takes (matched by name), stored so a checkpoint rebuilds it."""
    from ganforge.models import model_parameters

    return {name: getattr(config, name) for name in model_parameters(config.model) if hasattr(config, name)}


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
        state = self._prepare_run_dir(resume)
        if state is not None:
            saved = TrainConfig.from_dict(json.loads(state["config"]), "checkpoint config")
            lengths = {k: getattr(config, k) for k in ("total_steps", "epochs", "max_minutes")}
            config = replace(saved, **{k: v for k, v in lengths.items() if v is not None})
        self.config = fill_defaults(config).validate()
        cfg = self.config
        self.device = resolve_device(cfg.device)
        self.precision = resolve_precision(cfg.precision, self.device)
        self.points = is_point_data(cfg.data)  # 2D points: MLPs, scatter plots, no image handling
        if self.points:
            self.dataset = dataset or load_points(cfg.data)
            if cfg.model != "mlp":
                raise GanforgeError(f"--data {cfg.data} is 2D point data: it needs --model mlp "
                                    "(`ganforge train` picks it, via the recommended preset)")
        else:
            self.dataset = dataset or load_dataset(cfg.data, cfg.resolution, cfg.channels, quiet=quiet)
            if (self.dataset.resolution, self.dataset.channels) != (cfg.resolution, cfg.channels):
                raise GanforgeError("the data set's resolution/channels differ from the config")
        self.config = cfg = replace(cfg, augment=resolve_augment(cfg, len(self.dataset), self.points))
        torch.manual_seed(cfg.seed)
        self.G, self.D = create_model(cfg.model, **model_args(cfg))
        if cfg.spectral_norm:
            apply_spectral_norm(self.D)
        layout = torch.preserve_format if self.points else torch.channels_last
        self.G.to(self.device).to(memory_format=layout)
        self.D.to(self.device).to(memory_format=layout)
        self.opt_G = torch.optim.Adam(self.G.parameters(), lr=cfg.lr_g, betas=(cfg.beta1, cfg.beta2))
        self.opt_D = torch.optim.Adam(self.D.parameters(), lr=cfg.lr_d, betas=(cfg.beta1, cfg.beta2))
        self.G_ema = make_ema(self.G) if cfg.ema_beta > 0 else None
        self.remedies = Remedies(cfg, self.D, self.opt_D)  # loss, penalties, D's input, balance, doctor
        self.step_fn = GANStep(self.G, self.remedies.d_input, self.opt_G, self.opt_D, self.remedies.loss,
                               self.device, self.precision, d_penalty=self.remedies.penalty)
        if self.points:
            self.batches = BatchStream(self.dataset.points.to(self.device), cfg.batch_size, cfg.seed,
                                       decode=torch.Tensor.float)
        else:
            self.batches = BatchStream(self.dataset.images.to(self.device), cfg.batch_size, cfg.seed, cfg.flip,
                                       labels=self.dataset.labels)
        # the doctor compares a fixed latent batch with a fixed real batch, drawn without touching the data order
        pick = torch.randperm(len(self.dataset), generator=torch.Generator().manual_seed(cfg.seed + 3))
        self.doctor_real = self.batches.decode(self.batches.images[pick[: Remedies.DOCTOR_BATCH].to(self.device)])
        self.doctor_z = torch.randn(Remedies.DOCTOR_BATCH, cfg.latent_dim,
                                    generator=torch.Generator().manual_seed(cfg.seed + 4)).to(self.device)
        self.noise = torch.Generator(device=self.device).manual_seed(cfg.seed + 1)
        self.fixed_z = torch.randn(cfg.sample_count, cfg.latent_dim,
                                   generator=torch.Generator().manual_seed(cfg.seed + 2)).to(self.device)
        self.step = 0
        self.total_steps = planned_steps(cfg, len(self.dataset))
        if state is not None:
            self._load_state(state)
        self.log = MetricsLog(self.out_dir / "metrics.jsonl", resume_step=self.step if state else None)
        self.tensorboard = (TensorBoardLog(self.out_dir / "tensorboard", resume_step=self.step if state else None)
                            if cfg.tensorboard else None)
        (self.out_dir / "config.json").write_text(cfg.to_json() + "\n")

    # --- run directory and checkpoints -------------------------------------------------------------
    def _prepare_run_dir(self, resume: bool) -> dict[str, Any] | None:
        ckpt = self.out_dir / "checkpoints" / LATEST
        if resume:
            if not ckpt.is_file():
                raise GanforgeError(f"{self.out_dir}: nothing to resume (no {ckpt.relative_to(self.out_dir)})")
            return load_checkpoint(ckpt)
        if self.out_dir.exists() and any(self.out_dir.iterdir()):
            raise GanforgeError(f"{self.out_dir}: already holds files; resume it with --resume {self.out_dir} "
                                "or choose a new --out")
        (self.out_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
        (self.out_dir / "samples").mkdir(exist_ok=True)
        return None

    def state_dict(self) -> dict[str, Any]:
        return {
            "recipe": "gan",
            "config": self.config.to_json(),
            "model": self.config.model,
            "model_args": model_args(self.config),
            "step": self.step,
            "data_position": self.batches.position,
            "G": self.G.state_dict(),
            "D": self.D.state_dict(),
            "G_ema": self.G_ema.state_dict() if self.G_ema is not None else None,
            "opt_G": self.opt_G.state_dict(),
            "opt_D": self.opt_D.state_dict(),
            "rng": {"noise": self.noise.get_state(), "torch": torch.get_rng_state()},
            "remedies": self.remedies.state_dict(),
        }

    def _load_state(self, state: dict[str, Any]) -> None:
        self.G.load_state_dict(state["G"])
        self.D.load_state_dict(state["D"])
        if self.G_ema is not None and state.get("G_ema") is not None:
            self.G_ema.load_state_dict(state["G_ema"])
        self.opt_G.load_state_dict(state["opt_G"])
        self.opt_D.load_state_dict(state["opt_D"])
        self.noise.set_state(state["rng"]["noise"])
        torch.set_rng_state(state["rng"]["torch"])
        self.step = int(state["step"])
        self.batches.position = int(state["data_position"])
        self.remedies.load_state_dict(state["remedies"], self.step)

    def save(self) -> Path:
        ckpt_dir = self.out_dir / "checkpoints"
        state = self.state_dict()
        path = save_checkpoint(ckpt_dir / LATEST, state)
        if self.step % self.config.checkpoint_every == 0:
            save_checkpoint(ckpt_dir / f"step-{self.step:07d}.pt", state)
        return path

    # --- outputs -------------------------------------------------------------------------------------
    @torch.no_grad()
    def write_samples(self) -> Path:
        G = self.G_ema if self.G_ema is not None else self.G
        was_training = G.training
        G.eval()
        images = G(self.fixed_z)
        G.train(was_training)
        path = self.out_dir / "samples" / f"{self.step:07d}.png"
        if self.points:
            plots2d.save_scatter(path, self.dataset.points, images, self.remedies.d_input, self.step)
            return path
        save_grid(path, images, nrow=int(math.sqrt(len(images))) or None)
        if self.tensorboard is not None:
            self.tensorboard.samples(self.step, images, {"G": self.G, "D": self.D})
        return path

    # --- the loop --------------------------------------------------------------------------------------
    def run(self) -> TrainResult:
        cfg = self.config
        start = self.clock()
        deadline = start + cfg.max_minutes * 60 if cfg.max_minutes else math.inf
        status = "done"
        sums: dict[str, torch.Tensor] = {}
        count, window_start, window_images = 0, time.monotonic(), 0
        previous = signal.signal(signal.SIGTERM, _raise_stop) if _main_thread() else None
        bar = tqdm(total=self.total_steps, initial=self.step, unit="step", dynamic_ncols=True,
                   disable=self.quiet or None, file=sys.stderr)
        if self.step == 0:
            self.write_samples()
        try:
            while self.total_steps is None or self.step < self.total_steps:
                if self.clock() >= deadline:
                    status = "time budget"
                    break
                decision = self.remedies.balance.decide()
                for _ in range(self.remedies.balance.d_steps - 1):  # --d-steps: extra D-only updates
                    self.step_fn(*self._next_batch(), train_g=False)
                stats = self.step_fn(*self._next_batch(), train_d=decision.train_d, train_g=decision.train_g)
                if self.G_ema is not None:
                    update_ema(self.G_ema, self.G, ema_beta_at(self.step, cfg.ema_beta))
                self.step += 1
                emit(self.remedies.after_step(self.step, stats, decision, self.G), self.log, self.quiet)
                bar.update(1)
                for key, value in stats.items():  # accumulate on device: no host sync per step
                    sums[key] = sums[key] + value if key in sums else value.clone()
                count += 1
                window_images += cfg.batch_size
                if self.step % cfg.log_every == 0:
                    record = self._log(sums, count, window_images / (time.monotonic() - window_start))
                    bar.set_postfix_str(f"D {record['loss/D']:.3f} G {record['loss/G']:.3f} "
                                        f"D(x) {record['D/real_prob']:.2f} D(G(z)) {record['D/fake_prob']:.2f} "
                                        f"{record['time/img_per_s']:.0f} img/s")
                    sums, count, window_start, window_images = {}, 0, time.monotonic(), 0
                if self.step % cfg.sample_every == 0:
                    self.write_samples()
                    plot_losses(self.log.records, self.out_dir / "loss.png")
                if self.step % cfg.checkpoint_every == 0:
                    self.save()
        except (KeyboardInterrupt, _Stop):
            status = "interrupted"
        finally:
            bar.close()
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
        if count:
            self._log(sums, count, window_images / max(time.monotonic() - window_start, 1e-9))
        path = self.save()
        if self.step % cfg.sample_every:
            self.write_samples()
        plot_losses(self.log.records, self.out_dir / "loss.png")
        if self.points:
            plots2d.save_evolution_gif(self.out_dir / "samples", self.out_dir / "evolution.gif")
        if self.tensorboard is not None:
            self.tensorboard.close()
        write_report(self.out_dir)
        return TrainResult(self.step, status, self.out_dir, path)

    def _log(self, sums: dict[str, torch.Tensor], count: int, img_per_s: float) -> dict[str, Any]:
        record: dict[str, Any] = {"step": self.step, "epoch": round(self.batches.epoch, 3)}
        record.update({key: float(value) / count for key, value in sums.items()})
        record["time/img_per_s"] = img_per_s
        events = self.remedies.examine(record, self.G, self.doctor_z, self.doctor_real)  # the training doctor
        self.log.write(record)
        emit(events, self.log, self.quiet)
        if self.tensorboard is not None:
            self.tensorboard.scalars(record)
        return record

    def _next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        real, _ = self.batches.next()
        if real.ndim == 4:
            real = real.contiguous(memory_format=torch.channels_last)
        z = torch.randn(self.config.batch_size, self.config.latent_dim, device=self.device, generator=self.noise)
        return real, z


def _raise_stop(signum: int, frame: Any) -> None:
    raise _Stop()


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def train(config: TrainConfig, out_dir: str | Path, resume: bool = False, quiet: bool = False) -> TrainResult:
    """Train (or resume) a run in out_dir; returns where it stopped and why."""
    return Trainer(config, Path(out_dir), resume=resume, quiet=quiet).run()
