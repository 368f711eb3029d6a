"""The training doctor on synthetic traces, and its diversity measure on hand-made generators."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from torch import nn

from ganforge.models import create_model
from ganforge.training.d_input import DiscriminatorInput
from ganforge.training.doctor import TrainingDoctor, diversity_ratio, grad_norm, mean_pairwise_distance
from ganforge.training.loop import Trainer
from ganforge.training.metrics_log import read_metrics


def _record(step: int, real: float = 0.6, fake: float = 0.4, d_loss: float = 1.2) -> dict:
    return {"step": step, "loss/D": d_loss, "loss/G": 0.8, "D/real_prob": real, "D/fake_prob": fake,
            "grad/G": 0.5, "grad/D": 0.5}


def _kinds(doctor: TrainingDoctor, records: list[dict], diversity: list[float | None] | None = None) -> list:
    diversity = diversity or [None] * len(records)
    return [(e.step, e.kind) for r, d in zip(records, diversity) for e in doctor.check(r, d)]


def test_quiet_on_a_healthy_trace():
    doctor = TrainingDoctor()
    records = [_record(50 * i, real=0.55 + 0.1 * (i % 3), fake=0.45 - 0.1 * (i % 2)) for i in range(1, 60)]
    assert _kinds(doctor, records, [0.8] * len(records)) == []


def test_flags_d_overpowering_g_after_patience_then_cools_down():
    doctor = TrainingDoctor(patience=3, cooldown=5)
    records = [_record(50 * i, real=0.97, fake=0.03, d_loss=0.06) for i in range(1, 13)]
    events = _kinds(doctor, records)
    assert events == [(150, "doctor/imbalance"), (400, "doctor/imbalance")]  # reported at the 3rd, then after 5
    message = TrainingDoctor(patience=1).check(records[0])[0].message
    assert "D is overpowering G" in message and "--balance skip" in message


def test_a_brief_spike_is_not_reported():
    doctor = TrainingDoctor(patience=3)
    records = [_record(50, 0.97, 0.03), _record(100, 0.97, 0.03), _record(150), _record(200, 0.97, 0.03)]
    assert _kinds(doctor, records) == []


def test_divergence_is_left_to_the_rollback_which_keeps_the_balance_in_step(tiny_config, tmp_path):
    """NaN/inf is training/rollback.py's: one mechanism, whose halved learning rate the adaptive policy keeps."""
    assert TrainingDoctor(patience=1).check({**_record(300), "loss/D": float("nan")}) == []
    config = replace(tiny_config, total_steps=8, sample_every=1000, balance="adaptive", augment="off")
    trainer = Trainer(config, tmp_path / "run", quiet=True)
    step_fn = trainer.step_fn

    def poison_after_step_5(*args, **kwargs):
        stats = step_fn(*args, **kwargs)
        if trainer.step == 4 and not trainer.rollback.retries:
            with torch.no_grad():
                next(trainer.D.parameters()).fill_(float("nan"))
        return stats

    trainer.step_fn = poison_after_step_5
    assert trainer.run().step == 8
    events = [r for r in read_metrics(tmp_path / "run" / "metrics.jsonl") if "event" in r]
    assert [(e["event"], e["step"]) for e in events] == [("rollback", 4)]
    lr_d = trainer.opt_D.param_groups[0]["lr"]
    assert lr_d == pytest.approx(config.lr_d / 2 * trainer.remedies.balance.scale, rel=0.01)  # halved, then steered


def test_collapse_needs_low_diversity_after_warmup():
    doctor = TrainingDoctor(warmup_steps=200, patience=2)
    records = [_record(100 * i) for i in range(1, 6)]
    assert _kinds(doctor, records, [0.05] * 5) == [(300, "doctor/collapse")]  # steps 100 ignored (warm-up)
    assert _kinds(TrainingDoctor(patience=2), records, [0.6] * 5) == []


def test_imbalance_check_is_off_for_critics():
    doctor = TrainingDoctor(patience=1, check_imbalance=False)
    assert doctor.check(_record(50, real=1.0, fake=0.0)) == []


def test_doctor_state_round_trips():
    doctor = TrainingDoctor(patience=3)
    doctor.check(_record(50, 0.97, 0.03))
    doctor.check(_record(100, 0.97, 0.03))
    resumed = TrainingDoctor(patience=3)
    resumed.load_state_dict(doctor.state_dict())
    assert [e.kind for e in resumed.check(_record(150, 0.97, 0.03))] == ["doctor/imbalance"]


class _ConstantG(nn.Module):
    def __init__(self, point: torch.Tensor) -> None:
        super().__init__()
        self.point = nn.Parameter(point)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.point.expand(z.shape[0], -1) + 0.0 * z[:, :1]


class _Recipe:
    judged_by_spread = True

    def sample_grid(self, G, inputs):
        return G(inputs["z"]), 1


def test_diversity_ratio_separates_a_collapsed_generator_from_a_diverse_one():
    torch.manual_seed(0)
    _, D = create_model("mlp", d_width=32)
    d_input = DiscriminatorInput(D)
    real = torch.randn(128, 2)
    inputs = {"z": torch.randn(128, 2)}
    identity_g = nn.Identity()
    identity_g.register_parameter("unused", nn.Parameter(torch.zeros(1)))
    assert diversity_ratio(_Recipe(), identity_g, d_input, inputs, real) > 0.7
    collapsed = diversity_ratio(_Recipe(), _ConstantG(torch.tensor([0.3, -0.2])), d_input, inputs, real)
    assert collapsed < 1e-3
    assert D.training  # restored after the eval-mode measurement


def test_mean_pairwise_distance_and_grad_norm():
    points = torch.tensor([[0.0, 0.0], [3.0, 4.0]])
    assert mean_pairwise_distance(points) == 5.0
    layer = nn.Linear(2, 1, bias=False)
    assert grad_norm(layer).item() == 0.0
    layer.weight.grad = torch.tensor([[3.0, 4.0]])
    assert grad_norm(layer).item() == 5.0
    assert grad_norm(list(layer.parameters())).item() == 5.0  # the loop passes lists gathered once


def test_collapse_remedy_suggests_only_what_the_run_is_not_using() -> None:
    from ganforge.config import resolve_config as make_config
    from ganforge.training.doctor import COLLAPSE_REMEDY
    from ganforge.training.remedies import collapse_remedy

    plain = make_config({"data": "digits", "preset": "plain", "resolution": 32, "channels": 1})
    assert collapse_remedy(plain) == COLLAPSE_REMEDY  # nothing on yet: every remedy
    points = collapse_remedy(make_config({"data": "grid"}))  # the recommended 2D recipe: EMA and --pack 2 on
    assert "--ema-beta" not in points and "--pack 4" in points and "--pack 2 " not in points
    infogan = collapse_remedy(make_config({"data": "digits", "preset": "recommended", "resolution": 32,
                                           "channels": 1}))
    assert infogan == "Try --minibatch-std."  # packing is refused with latent categories; the rest is on


def test_class_collapse_remedy_is_auto_s_recipe_as_flags_the_command_takes(tmp_path) -> None:
    """Measured on Tux Paint stamps (docs/results.md): auto's conditional DCGAN recipe as a whole kept the classes
    varied where each of its parts alone did not, so the message gives the whole recipe as flags."""
    from dataclasses import fields

    from PIL import Image

    from ganforge.cli import build_parser
    from ganforge.config import TrainConfig
    from ganforge.config import resolve_config as make_config
    from ganforge.training.remedies import class_collapse_remedy, collapse_remedy

    for name in ("cats", "dogs"):
        (tmp_path / name).mkdir()
        for i in range(2):
            Image.new("RGB", (16, 16), (40 * i, 90, 200)).save(tmp_path / name / f"{i}.png")
    given = ["--data", str(tmp_path), "--resolution", "16", "--conditional", "--preset", "plain"]
    text = class_collapse_remedy(make_config({"data": str(tmp_path), "resolution": 16, "conditional": True,
                                              "preset": "plain"}))
    assert text.startswith("Try --loss hinge --spectral-norm --no-d-batchnorm") and text.endswith("--minibatch-std.")
    flags = text[len("Try "):text.index(" together")].split()
    args = build_parser().parse_args(["train", "--out", str(tmp_path / "run"), *given, *flags])
    settings = {f.name: getattr(args, f.name) for f in fields(TrainConfig) if getattr(args, f.name, None) is not None}
    followed = make_config(settings)
    assert (followed.loss, followed.spectral_norm, followed.d_batchnorm, followed.beta1) == ("hinge", True, False, 0)
    assert class_collapse_remedy(followed) == collapse_remedy(followed)  # nothing of the recipe left to suggest
