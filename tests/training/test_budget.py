"""Training for a time budget, as benchmarks/highres.py compares models: CPU time on a CPU, and Ctrl-C stops all."""

import time

import pytest

from ganforge.config import TrainConfig
from ganforge.data.builtin import shapes
from ganforge.training.budget import train_for_budget
from ganforge.training.signals import StopSignals


def _budget_run(out):
    """A tiny dcgan at 128 px on 8 shapes with 1 CPU minute, as benchmarks/highres.py trains each model."""
    config = TrainConfig(data="shapes", resolution=128, channels=3, model="dcgan", latent_dim=64, g_width=8,
                         d_width=8, batch_size=2, ema_beta=0.999, max_minutes=1.0, log_every=100,
                         sample_every=10**9, checkpoint_every=10**9, device="cpu", precision="auto", seed=0)
    return train_for_budget(config, out, shapes(128, count=8))


def test_budget_counts_cpu_time_not_wall_time(tmp_path, monkeypatch):
    """The deadline follows the CPU clock: followed wall time, a busy machine would give some models less CPU
    than others."""
    cpu_seconds = iter(range(0, 10**6, 30))  # a stand-in CPU clock: 30 s pass at every reading
    monkeypatch.setattr(time, "process_time", lambda: float(next(cpu_seconds)))
    trainer, cpu_s = _budget_run(tmp_path / "run")
    assert 1 <= trainer.step <= 2  # 60 s of (stand-in) CPU time are spent after one or two steps
    assert cpu_s >= 60


def test_budget_run_stops_whole_when_interrupted(tmp_path, monkeypatch):
    """Ctrl-C / SIGTERM during one model's training stops the whole comparison, not only that model."""
    def install_then_signal(self):  # as if SIGTERM arrived right after training started
        self.requested = "SIGTERM"
        return self

    monkeypatch.setattr(StopSignals, "install", install_then_signal)
    with pytest.raises(KeyboardInterrupt):
        _budget_run(tmp_path / "run")
