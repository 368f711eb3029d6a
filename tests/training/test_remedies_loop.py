"""The balance policies and stabilisers inside a real (tiny) training run."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from ganforge.config.train_config import saved_settings
from ganforge.errors import GanforgeError
from ganforge.training.loop import Trainer
from ganforge.training.metrics_log import read_metrics


def test_skip_policy_freezes_d_and_logs_why(tiny_config, tmp_path):
    config = replace(tiny_config, balance="skip", skip_d_below=50.0, skip_g_above=100.0, augment="off")
    trainer = Trainer(config, tmp_path / "run", quiet=True)
    trainer.total_steps = 1
    trainer.run()
    d_after_first = [p.detach().clone() for p in trainer.D.parameters()]
    trainer.total_steps = 4
    trainer.run()
    # D's loss (about 1.4) is below 50 after step 1: every later D update is skipped
    assert all(torch.equal(a, b) for a, b in zip(d_after_first, trainer.D.parameters()))
    records = read_metrics(tmp_path / "run" / "metrics.jsonl")
    events = [r for r in records if "event" in r]
    assert [(e["step"], e["event"]) for e in events] == [(1, "balance/skip_d")]
    assert "< 50.0" in events[0]["message"] and "D is winning" in events[0]["message"]
    assert [r["balance/D_skipped"] for r in records if "balance/D_skipped" in r][-1] == 1.0


def test_d_steps_gives_d_extra_updates(tiny_config, tmp_path):
    trainer = Trainer(replace(tiny_config, d_steps=3, total_steps=2, augment="off"), tmp_path / "run", quiet=True)
    trainer.run()
    d_updates = {int(s["step"]) for s in trainer.opt_D.state_dict()["state"].values()}
    g_updates = {int(s["step"]) for s in trainer.opt_G.state_dict()["state"].values()}
    assert (d_updates, g_updates) == ({6}, {2})


ALL_ON = dict(spectral_norm=True, minibatch_std=True, pack=2, augment="ada", augment_p=0.3, r1_gamma=1.0, r1_every=2,
              instance_noise=0.1, noise_anneal_steps=3, label_smoothing=0.1, balance="adaptive", ema_beta=0.9)


def test_every_stabiliser_at_once_trains_and_resumes_exactly(tiny_config, tmp_path):
    config = replace(tiny_config, **ALL_ON, total_steps=4)
    straight = Trainer(config, tmp_path / "straight", quiet=True)
    straight.run()
    first = Trainer(replace(config, total_steps=2), tmp_path / "resumed", quiet=True)
    first.run()
    resumed = Trainer(replace(config, total_steps=4), tmp_path / "resumed", resume=True, quiet=True)
    assert resumed.remedies.d_input.augment.p == first.remedies.d_input.augment.p
    resumed.run()
    for a, b in zip(straight.G.state_dict().values(), resumed.G.state_dict().values()):
        torch.testing.assert_close(a, b)
    for a, b in zip(straight.D.state_dict().values(), resumed.D.state_dict().values()):
        torch.testing.assert_close(a, b)
    records = read_metrics(tmp_path / "straight" / "metrics.jsonl")
    logged = [r for r in records if "loss/D" in r]
    assert all(k in logged[-1] for k in ("loss/D_penalty", "augment/p", "balance/lr_D_scale", "doctor/diversity"))
    assert all(v is not None for v in logged[-1].values())
    saved = saved_settings((tmp_path / "straight" / "config.json").read_text())
    assert saved["augment"] == "ada" and saved["pack"] == 2


def test_small_image_sets_get_adaptive_augmentation_by_default(tiny_config, tmp_path):
    trainer = Trainer(replace(tiny_config, total_steps=1), tmp_path / "run", quiet=True)
    assert trainer.config.augment == "ada" and trainer.remedies.d_input.augment is not None  # digits: 1,797 images


CONDITIONAL_ON = dict(conditional=True, spectral_norm=True, minibatch_std=True, augment="ada", augment_p=0.3,
                      r1_gamma=1.0, r1_every=1, instance_noise=0.1, label_smoothing=0.1, balance="skip")


def test_class_conditional_runs_take_the_stabilisers_and_the_doctor(tiny_config, tmp_path):
    trainer = Trainer(replace(tiny_config, **CONDITIONAL_ON, total_steps=2, sample_count=10), tmp_path / "run",
                      quiet=True)
    trainer.run()
    assert trainer.recipe.name == "conditional" and trainer.D.mbstd is not None
    logged = [r for r in read_metrics(tmp_path / "run" / "metrics.jsonl") if "loss/D" in r][-1]
    assert logged["loss/D_penalty"] > 0 and "augment/p" in logged and 0 < logged["doctor/diversity"] < 10


def test_stabilisers_without_meaning_for_a_recipe_are_refused_in_one_line(tiny_config, tmp_path):
    with pytest.raises(GanforgeError, match="^--pack: not available for --model dcgan --conditional; a class-"):
        replace(tiny_config, conditional=True, pack=2).validate()
    pix2pix = replace(tiny_config, model="pix2pix", data="tiny-pairs", patch_size=16)
    with pytest.raises(GanforgeError, match=r"^--loss wgan-gp, --r1-gamma: not available for --model pix2pix"):
        replace(pix2pix, r1_gamma=1.0, loss="wgan-gp").validate()
    with pytest.raises(GanforgeError, match="^--model mlp is for 2D point data"):
        replace(tiny_config, model="mlp").validate()
