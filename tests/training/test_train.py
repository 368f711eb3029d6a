"""The training loop: run directory, determinism, exact resume, Ctrl-C."""

import json
from dataclasses import replace

import pytest
import torch

from ganforge.checkpoint import load_checkpoint
from ganforge.config.train_config import saved_settings
from ganforge.errors import GanforgeError
from ganforge.training.loop import Trainer, train


def _weights(run_dir):
    state = load_checkpoint(run_dir)
    return {**{f"G.{k}": v for k, v in state["G"].items()}, **{f"D.{k}": v for k, v in state["D"].items()}}


def test_run_directory_has_everything(tmp_path, tiny_config):
    result = train(tiny_config, tmp_path / "run", quiet=True)
    run = tmp_path / "run"
    assert result.status == "done" and result.step == 4
    assert saved_settings((run / "config.json").read_text())["resolution"] == 16
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [2, 4]
    for key in ("loss/D", "loss/G", "D/real_prob", "D/fake_prob", "time/img_per_s"):
        assert all(key in r for r in records)
    assert 0 <= records[-1]["D/real_prob"] <= 1
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["0000000.png", "0000002.png", "0000004.png"]
    assert sorted(p.name for p in (run / "checkpoints").glob("*.pt")) == [
        "latest.pt", "step-0000000.pt", "step-0000002.pt", "step-0000004.pt"]
    assert (run / "loss.png").stat().st_size > 1000


def test_same_seed_same_weights(tmp_path, tiny_config):
    train(tiny_config, tmp_path / "a", quiet=True)
    train(tiny_config, tmp_path / "b", quiet=True)
    train(replace(tiny_config, seed=1), tmp_path / "c", quiet=True)
    a, b, c = _weights(tmp_path / "a"), _weights(tmp_path / "b"), _weights(tmp_path / "c")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


# r3gan: its schedule's horizon is fixed (a run's own default is its length when it starts, which differs here
# between the 6-step run and the 3-step first leg), so both follow the same curve of rates, beta2 and gamma
@pytest.mark.parametrize("arch", [{}, dict(d_arch="resnet", g_arch="resnet"), dict(d_arch="inception"),
                                  dict(model="mlp-gan"),
                                  dict(model="r3gan", g_width=4, d_width=4, decay_steps=6)],
                         ids=["dcgan", "resnet", "inception", "mlp-gan", "r3gan"])
def test_resume_gives_the_same_weights_as_an_uninterrupted_run(tmp_path, tiny_config, arch):
    """Also for the backbones (--d-arch, --g-arch), the fully connected GAN, whose D draws dropout masks, and R3GAN."""
    config = replace(tiny_config, total_steps=6, checkpoint_every=3, ema_beta=0.9, **arch)
    train(config, tmp_path / "straight", quiet=True)
    train(replace(config, total_steps=3), tmp_path / "stopped", quiet=True)
    result = train(replace(config, total_steps=6), tmp_path / "stopped", resume=True, quiet=True)
    assert result.step == 6
    straight, resumed = load_checkpoint(tmp_path / "straight"), load_checkpoint(tmp_path / "stopped")
    for part in ("G", "D", "G_ema"):
        for key, value in straight[part].items():
            assert torch.equal(value, resumed[part][key]), f"{part}.{key} differs after resume"
    assert straight["opt_G"]["state"][0]["step"] == resumed["opt_G"]["state"][0]["step"]
    steps = [json.loads(line)["step"] for line in (tmp_path / "stopped" / "metrics.jsonl").read_text().splitlines()]
    assert steps == [2, 3, 4, 6]  # log at 3 is the final partial window of the first leg, no duplicates


def test_resume_drops_metrics_written_after_the_checkpoint(tmp_path, tiny_config):
    run = tmp_path / "run"
    train(replace(tiny_config, total_steps=2), run, quiet=True)
    with open(run / "metrics.jsonl", "a") as handle:  # as if the process died after logging step 3
        handle.write(json.dumps({"step": 3, "loss/D": 1.0}) + "\n" + '{"step": 4, "loss')
    train(replace(tiny_config, total_steps=4), run, resume=True, quiet=True)
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == [2, 4]


def test_interrupt_saves_a_checkpoint(tmp_path, tiny_config, monkeypatch):
    import os
    import signal

    trainer = Trainer(replace(tiny_config, total_steps=50), tmp_path / "run", quiet=True)
    original = trainer.step_fn
    calls = {"n": 0}

    def interrupted_step(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:  # Ctrl-C during step 3: the step finishes, then the loop saves and stops
            os.kill(os.getpid(), signal.SIGINT)
        return original(*args, **kwargs)

    trainer.step_fn = interrupted_step
    result = trainer.run()
    assert result.status == "interrupted" and result.step == 3
    assert load_checkpoint(tmp_path / "run")["step"] == 3


def test_time_budget_stops_with_a_checkpoint(tmp_path, tiny_config):
    result = train(replace(tiny_config, total_steps=None, max_minutes=1e-9), tmp_path / "run", quiet=True)
    assert result.status == "time budget"
    assert load_checkpoint(tmp_path / "run")["step"] == result.step


def test_refuses_to_overwrite_a_run(tmp_path, tiny_config):
    train(tiny_config, tmp_path / "run", quiet=True)
    with pytest.raises(GanforgeError, match="already holds files; resume it with --resume"):
        train(tiny_config, tmp_path / "run", quiet=True)


def test_resume_without_a_checkpoint_is_a_clear_error(tmp_path, tiny_config):
    with pytest.raises(GanforgeError, match="nothing to resume"):
        train(tiny_config, tmp_path, resume=True, quiet=True)


def test_epochs_limit(tmp_path, tiny_config):
    trainer = Trainer(replace(tiny_config, total_steps=None, epochs=0.01), tmp_path / "run", quiet=True)
    assert trainer.total_steps == 3  # ceil(0.01 * 1797 / 8)


def test_ema_follows_the_formula_with_warm_up():
    from torch import nn

    from ganforge.training.ema import ema_beta_at, make_ema, update_ema

    G = nn.Linear(2, 1)
    ema = make_ema(G)
    before = ema.weight.clone()
    with torch.no_grad():
        G.weight.add_(1.0)
    update_ema(ema, G, ema_beta_at(0, 0.999))  # warm-up: beta = 1 / 4 at step 0
    assert torch.allclose(ema.weight, 0.25 * before + 0.75 * G.weight)
    assert ema_beta_at(10_000, 0.999) == 0.999
    assert ema_beta_at(1_000, 0.999) == 1_001 / 1_004  # below the set beta until step 2,996
    assert ema_beta_at(2_996, 0.999) == 0.999
