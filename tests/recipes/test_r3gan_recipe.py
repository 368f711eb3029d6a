"""R3GAN's step against closed forms on a linear critic, its schedule, and its runs (plain, resumed, conditional)."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ganforge.checkpoint import load_checkpoint
from ganforge.config import TrainConfig, resolve_config
from ganforge.errors import GanforgeError
from ganforge.losses.relativistic import pair_loss
from ganforge.recipes import StepParts
from ganforge.recipes.r3gan import R3GANSchedule, R3GANStep, cosine
from ganforge.training.loop import train


class LinearCritic(nn.Module):
    """D(x) = <w, x>: its input gradient is w everywhere, so R1 = R2 = |w|^2."""

    def __init__(self, w: torch.Tensor) -> None:
        super().__init__()
        self.w = nn.Parameter(w.clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x * self.w).flatten(1).sum(1)


class FixedFakes(nn.Module):
    """G(z) = learned images, whatever z is."""

    def __init__(self, images: torch.Tensor) -> None:
        super().__init__()
        self.images = nn.Parameter(images.clone())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.images[: len(z)] * 1


def _sgd_step(gamma: float):
    torch.manual_seed(0)
    w, real, fake = torch.randn(1, 2, 2), torch.randn(3, 1, 2, 2), torch.randn(3, 1, 2, 2)
    D, G = LinearCritic(w), FixedFakes(fake)
    parts = StepParts(G, D, torch.optim.SGD(G.parameters(), lr=1.0), torch.optim.SGD(D.parameters(), lr=1.0),
                      torch.device("cpu"))
    step = R3GANStep(parts, pair_loss("rpgan"), R3GANSchedule(gamma, 0.99, horizon=0, budget_s=None))
    return step, w, real, fake, D, G


def test_d_update_is_rpgan_plus_gamma_half_of_r1_and_r2():
    """grad_w [mean softplus(f_i - r_i) + gamma/2 (|w|^2 + |w|^2)] = mean sigmoid(f_i - r_i)(y_i - x_i) + 2 gamma w."""
    gamma = 0.5
    step, w, real, fake, D, _ = _sgd_step(gamma)
    stats = step(real, torch.zeros(3, 1), train_g=False)
    r, f = (real * w).flatten(1).sum(1), (fake * w).flatten(1).sum(1)
    loss_grad = (torch.sigmoid(f - r).view(3, 1, 1, 1) * (fake - real)).mean(0)
    torch.testing.assert_close(D.w.detach(), w - (loss_grad + 2 * gamma * w))
    assert stats["r3gan/R1"].item() == pytest.approx(w.pow(2).sum().item())
    assert stats["r3gan/R2"].item() == pytest.approx(w.pow(2).sum().item())
    assert stats["loss/D"].item() == pytest.approx(F.softplus(f - r).mean().item())
    assert stats["D/real_sign"].item() == pytest.approx((r - f).sign().mean().item())  # the pairs' ranking


def test_g_update_follows_the_swapped_pairs_against_the_updated_d():
    step, w, real, fake, D, G = _sgd_step(0.0)
    stats = step(real, torch.zeros(3, 1))
    assert "r3gan/R1" not in stats  # gamma 0: no penalty pass
    w_new = D.w.detach()
    r, f = (real * w_new).flatten(1).sum(1), (fake * w_new).flatten(1).sum(1)
    # d/dy_i mean softplus(r_i - f_i) = -sigmoid(r_i - f_i) w / B
    grad = -(torch.sigmoid(r - f).view(3, 1, 1, 1) * w_new) / 3
    torch.testing.assert_close(G.images.detach(), fake - grad)
    assert stats["loss/G"].item() == pytest.approx(F.softplus(r - f).mean().item())


def test_schedule_follows_the_papers_cosines_and_then_holds():
    p = nn.Parameter(torch.zeros(1))
    opt = torch.optim.Adam([p], lr=2e-4, betas=(0.0, 0.99))
    schedule = R3GANSchedule(gamma=1.0, beta2=0.99, horizon=4, budget_s=None)
    seen = []
    for steps in (0, 2, 4, 6):
        schedule.steps = steps
        gamma = schedule.apply([opt])
        seen.append((opt.param_groups[0]["lr"], opt.param_groups[0]["betas"][1], gamma))
    assert seen[0] == pytest.approx((2e-4, 0.9, 1.0))
    assert seen[1] == pytest.approx((2e-4 * 0.625, 0.945, 0.55))  # half way: half of each change
    assert seen[2] == pytest.approx((5e-5, 0.99, 0.1)) and seen[3] == pytest.approx(seen[2])
    opt.param_groups[0]["lr"] /= 2  # what a NaN roll-back does: the schedule keeps it
    schedule.steps = 7
    schedule.apply([opt])
    assert opt.param_groups[0]["lr"] == pytest.approx(2.5e-5)
    assert cosine(0.25, 1.0, 0.0) == pytest.approx((1 + math.cos(math.pi / 4)) / 2)


def test_horizon_zero_keeps_every_value():
    p = nn.Parameter(torch.zeros(1))
    opt = torch.optim.Adam([p], lr=1e-3, betas=(0.0, 0.99))
    schedule = R3GANSchedule(gamma=0.3, beta2=0.99, horizon=0, budget_s=None)
    schedule.steps = 50
    assert schedule.apply([opt]) == 0.3 and opt.param_groups[0]["lr"] == 1e-3


@pytest.fixture
def r3gan_config() -> TrainConfig:
    return TrainConfig(model="r3gan", data="digits", resolution=16, channels=1, latent_dim=8, g_width=4, d_width=4,
                       batch_size=8, total_steps=4, log_every=2, sample_every=2, checkpoint_every=2, sample_count=4,
                       precision="fp32", device="cpu", seed=0)


def test_a_run_decays_over_its_length_and_keeps_that_horizon_when_extended(r3gan_config, tmp_path):
    run = tmp_path / "run"
    train(r3gan_config, run, quiet=True)
    state = load_checkpoint(run)
    assert state["recipe"] == "r3gan" and state["recipe_state"]["schedule"]["horizon"] == 4
    last = cosine(3 / 4, 1.0, 0.25)  # the 4th update ran at 3/4 of the horizon
    assert state["opt_D"]["param_groups"][0]["lr"] == pytest.approx(2e-4 * last)
    assert state["opt_G"]["param_groups"][0]["betas"][1] == pytest.approx(cosine(3 / 4, 0.9, 0.99))
    train(replace(r3gan_config, total_steps=6), run, resume=True, quiet=True)
    state = load_checkpoint(run)
    assert state["recipe_state"]["schedule"] == {"steps": 6, "horizon": 4, "lr_factor": 0.25, "progress": None}
    assert state["opt_D"]["param_groups"][0]["lr"] == pytest.approx(5e-5)  # held at the end of the curve


def test_defaults_and_refusals():
    config = resolve_config({"model": "r3gan", "data": "digits"})
    assert (config.loss, config.beta1, config.beta2, config.gamma, config.latent_dim) == ("rpgan", 0.0, 0.99, 0.05, 64)
    stacked = resolve_config({"model": "r3gan", "data": "stacked-digits"})  # its preset's pack 2 / hinge do not apply
    assert (stacked.pack, stacked.loss, stacked.spectral_norm, stacked.resolution) == (1, "rpgan", False, 16)
    with pytest.raises(GanforgeError, match="--pack: not available for --model r3gan"):
        resolve_config({"model": "r3gan", "pack": 2})
    with pytest.raises(GanforgeError, match="--gamma: a setting of --model r3gan"):
        resolve_config({"model": "dcgan", "gamma": 1.0})
    with pytest.raises(GanforgeError, match="--decay-steps must be"):
        resolve_config({"model": "r3gan", "decay_steps": -1})


def test_conditional_r3gan_trains_on_labels_and_draws_a_row_per_class(r3gan_config, tmp_path):
    result = train(replace(r3gan_config, conditional=True, total_steps=2, sample_count=10), tmp_path / "c", quiet=True)
    state = load_checkpoint(result.checkpoint)
    assert (state["model"], state["recipe"]) == ("conditional-r3gan", "conditional-r3gan")
    assert state["class_names"] == [str(i) for i in range(10)] and state["model_args"]["num_classes"] == 10


def test_with_only_a_time_budget_the_curve_follows_the_clock_and_a_resume_spends_the_rest(monkeypatch):
    import ganforge.recipes.r3gan as r3gan

    now = [0.0]
    monkeypatch.setattr(r3gan.time, "monotonic", lambda: now[0])
    schedule = R3GANSchedule(gamma=1.0, beta2=0.99, horizon=None, budget_s=100.0)
    assert schedule.progress() == 0.0
    now[0] = 50.0
    assert schedule.progress() == pytest.approx(0.5)
    resumed = R3GANSchedule(gamma=1.0, beta2=0.99, horizon=None, budget_s=100.0)  # a new invocation, new budget
    resumed.load_state_dict(schedule.state_dict())
    assert resumed.progress() == pytest.approx(0.5)
    now[0] = 100.0
    assert resumed.progress() == pytest.approx(0.75)  # half of its budget spent: half of what was left
    now[0] = 500.0
    assert resumed.progress() == 1.0


def test_the_curve_over_a_time_budget_counts_the_trainers_clock(tmp_path, tiny_config):
    """Benchmarks count CPU seconds (Trainer.clock): the curve must follow that clock, not the wall clock."""
    from ganforge.training.loop import Trainer

    ticks = [0.0]

    def cpu_clock() -> float:  # 1 "second" per reading: a 0.5-minute budget ends after a few steps
        ticks[0] += 1.0
        return ticks[0]

    config = replace(tiny_config, model="r3gan", g_width=4, d_width=4, total_steps=None, max_minutes=0.5,
                     checkpoint_every=1000, sample_every=1000, log_every=1000)
    trainer = Trainer(config, tmp_path / "run", quiet=True)
    trainer.clock = cpu_clock
    result = trainer.run()
    assert result.status == "time budget"
    schedule = trainer.built.recipe.schedule
    assert schedule.clock is cpu_clock and schedule.progress() > 0.9  # the wall clock moved a few ms only
