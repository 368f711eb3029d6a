"""The doctor on what real folders show: a D that dominates a whole run at a gap the short-term check misses, and
a class-conditional G that collapses within each class while its overall spread looks healthy."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ganforge.models import create_model
from ganforge.training.d_input import DiscriminatorInput
from ganforge.training.doctor import DOMINANCE_WINDOWS, TrainingDoctor, class_diversity_ratio, within_class_spread


def _record(step: int, real: float, fake: float) -> dict:
    return {"step": step, "loss/D": 0.4, "loss/G": 2.5, "D/real_prob": real, "D/fake_prob": fake}


def _events(doctor: TrainingDoctor, records: list[dict], **per_record) -> list[tuple[int, str]]:
    found = []
    for i, record in enumerate(records):
        extra = {k: v[i] for k, v in per_record.items()}
        found += [(e.step, e.kind) for e in doctor.check(record, **extra)]
    return found


def test_a_whole_run_at_d_088_vs_011_is_reported_with_a_remedy():
    """D(x) ~0.88 and D(G(z)) ~0.11 for the whole run: under the imbalance check's 0.8 gap, so it said nothing."""
    doctor = TrainingDoctor(patience=3, cooldown=20)
    records = [_record(50 * i, 0.88 + 0.01 * (i % 3), 0.11 + 0.01 * (i % 2)) for i in range(1, 25)]
    events = _events(doctor, records)
    assert events == [(50 * (DOMINANCE_WINDOWS + 2), "doctor/dominance")]
    doctor = TrainingDoctor(patience=1)  # a fresh doctor for the words
    assert _events(doctor, records[:DOMINANCE_WINDOWS - 1]) == []
    text = doctor.check(records[DOMINANCE_WINDOWS - 1])[0].message
    assert text.startswith(f"D has dominated G for the last {DOMINANCE_WINDOWS} log windows: D(x) - D(G(z)) "
                           "averaged 0.78")
    assert "--augment ada" in text and "--lr-d" in text and "--r1-gamma 1" in text


@pytest.mark.parametrize("trace", [
    [(0.70, 0.30)] * 30,  # a healthy non-saturating run
    [(0.55, 0.45)] * 30,  # the recommended recipe's balance
    [(0.9, 0.1)] * 8 + [(0.6, 0.4)] + [(0.9, 0.1)] * 8,  # a dominant stretch broken by a window G won back
])
def test_quiet_on_healthy_or_broken_stretches(trace):
    records = [_record(50 * (i + 1), real, fake) for i, (real, fake) in enumerate(trace)]
    assert _events(TrainingDoctor(patience=3), records) == []


def test_outright_imbalance_is_told_once_not_twice():
    records = [_record(50 * i, 0.97, 0.03) for i in range(1, 16)]
    kinds = {kind for _, kind in _events(TrainingDoctor(patience=3), records)}
    assert kinds == {"doctor/imbalance"}


def test_dominance_is_off_for_critics_and_resumes_its_window():
    records = [_record(50 * i, 0.88, 0.11) for i in range(1, 20)]
    assert _events(TrainingDoctor(patience=1, check_imbalance=False), records) == []
    doctor = TrainingDoctor(patience=1)
    _events(doctor, records[:DOMINANCE_WINDOWS - 1])
    resumed = TrainingDoctor(patience=1)
    resumed.load_state_dict(doctor.state_dict())
    assert [e.kind for e in resumed.check(records[DOMINANCE_WINDOWS - 1])] == ["doctor/dominance"]


def test_within_class_collapse_is_reported_while_the_overall_spread_looks_fine():
    """The three-category run: every sample of a class the same image, `doctor/diversity` 0.63."""
    records = [_record(100 * i, 0.6, 0.4) for i in range(1, 8)]
    events = _events(TrainingDoctor(patience=3), records, diversity=[0.63] * 7, class_diversity=[0.02] * 7)
    assert events == [(400, "doctor/class_collapse")]  # from the 200-step warm-up on, three windows in a row
    doctor = TrainingDoctor(patience=1)
    text = doctor.check(records[3], diversity=0.63, class_diversity=0.02)[0].message
    assert text.startswith("G's samples are collapsing within each class: samples of one class spread only 0.02x")
    assert "overall 0.63x" in text and "Try" in text
    healthy = _events(TrainingDoctor(patience=3), records, diversity=[0.8] * 7, class_diversity=[0.6] * 7)
    assert healthy == []


class _PerClassG(nn.Module):
    """A conditional stand-in: one fixed point per class, plus `spread` times the latent."""

    def __init__(self, spread: float) -> None:
        super().__init__()
        self.centres = nn.Parameter(torch.tensor([[2.0, 0.0], [-2.0, 0.0], [0.0, 2.0]]))
        self.spread = spread

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.centres[labels] + self.spread * z


class _ConditionalRecipe:
    judged_by_spread = True

    def sample_grid(self, G, inputs):
        return G(inputs["z"], inputs["labels"]), 1


def test_class_diversity_ratio_on_hand_made_generators():
    torch.manual_seed(0)
    _, D = create_model("mlp", d_width=32)
    d_input = DiscriminatorInput(D)
    real_labels = torch.arange(3).repeat_interleave(16)
    real = _PerClassG(0.5)(torch.randn(48, 2), real_labels)  # real classes: a blob each
    inputs = {"z": torch.randn(60, 2), "labels": torch.arange(3).repeat_interleave(20)}
    recipe = _ConditionalRecipe()
    diverse = class_diversity_ratio(recipe, _PerClassG(0.5), d_input, inputs, real, real_labels)
    collapsed = class_diversity_ratio(recipe, _PerClassG(0.0), d_input, inputs, real, real_labels)
    assert diverse > 0.6 and collapsed < 1e-3
    assert class_diversity_ratio(recipe, _PerClassG(0.5), d_input, {"z": inputs["z"]}, real, real_labels) is None


def test_within_class_spread_skips_singletons():
    features = torch.tensor([[0.0, 0.0], [3.0, 4.0], [9.0, 9.0]])
    assert within_class_spread(features, torch.tensor([0, 0, 1])) == 5.0
    assert within_class_spread(features, torch.tensor([0, 1, 2])) is None


def test_dominance_remedy_suggests_only_what_the_run_is_not_using():
    from ganforge.config import resolve_config
    from ganforge.training.remedies import dominance_remedy

    plain = resolve_config({"data": "shapes", "preset": "plain", "augment": "off"})
    assert dominance_remedy(plain) == ("Try --r1-gamma 1 (keeps D smooth around the real images), --augment ada "
                                       "(D then cannot memorise a small folder), or a lower --lr-d (e.g. 0.0001, "
                                       "half of now).")
    tuned = resolve_config({"data": "shapes", "preset": "plain", "augment": "ada", "lr_d": 1e-4, "r1_gamma": 1.0})
    assert dominance_remedy(tuned).startswith("Try a lower --lr-d still")
