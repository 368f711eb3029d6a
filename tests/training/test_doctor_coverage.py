"""The training doctor's coverage check: which classes of labelled images, or which modes of
2D mixtures, G's samples cover. Fired by deliberately collapsed generators, quiet for ones that reproduce real
data of every class; tiny models, no training beyond a few steps."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from ganforge.config import TrainConfig
from ganforge.data.points import grid_modes, mixture, ring_modes
from ganforge.models import create_model
from ganforge.recipes import recipe_for
from ganforge.training.coverage import Coverage, CoverageCheck, class_coverage, make_coverage_check, mode_coverage
from ganforge.training.d_input import DiscriminatorInput
from ganforge.training.doctor import TrainingDoctor
from ganforge.training.loop import Trainer
from ganforge.training.metrics_log import read_metrics
from ganforge.training.remedies import Remedies

from helpers.replay_generator import ReplayG


@pytest.fixture(scope="module", autouse=True)
def _tiny_work_on_one_thread(one_thread):
    with one_thread():
        yield


def _clusters(labels: torch.Tensor, seed: int, spread: float = 0.3) -> torch.Tensor:
    """Features of one well-separated cluster per class: (N, 16)."""
    centres = torch.randn(10, 16, generator=torch.Generator().manual_seed(0)) * 3
    return centres[labels] + spread * torch.randn(len(labels), 16, generator=torch.Generator().manual_seed(seed))


NAMES = [str(i) for i in range(10)]


def test_class_coverage_names_the_classes_generated_features_miss():
    labels = torch.arange(256) % 10
    real = _clusters(labels, 1)
    assert class_coverage(real, labels, _clusters(labels, 2), NAMES) == Coverage(10, 10, [], 1.0)
    six = torch.arange(256) % 6
    partial = class_coverage(real, labels, _clusters(six, 3), NAMES)
    assert (partial.covered, partial.judged, partial.missing) == (6, 10, ["6", "7", "8", "9"])
    one = class_coverage(real, labels, _clusters(torch.full((256,), 4), 4, spread=0.0), NAMES)
    assert (one.covered, one.judged) == (1, 10)


def test_class_coverage_is_not_judged_when_the_features_do_not_tell_classes_apart():
    labels = torch.arange(256) % 10
    noise = torch.randn(256, 16, generator=torch.Generator().manual_seed(5))  # no class structure at all
    assert class_coverage(noise, labels, noise[:1].expand(256, -1), NAMES) is None


def test_classes_too_rare_to_expect_among_the_samples_are_not_judged():
    labels = torch.cat([torch.arange(250) % 5, torch.tensor([5, 5, 5, 6, 6, 6])])  # classes 5, 6: 3 images each
    real = _clusters(labels, 1)
    coverage = class_coverage(real, labels, _clusters(torch.arange(256) % 5, 2), NAMES[:7])
    assert (coverage.covered, coverage.judged, coverage.missing) == (5, 5, [])


def _digits_check(pack: int = 1):
    config = TrainConfig(data="digits", resolution=16, channels=1, latent_dim=8, g_width=4, d_width=8, pack=pack)
    recipe_type = recipe_for(config)
    recipe = recipe_type(config, recipe_type.load_data(config, quiet=True))
    torch.manual_seed(0)
    _, D = create_model("dcgan", resolution=16, channels=1, latent_dim=8, d_width=8, pack=pack)
    check = make_coverage_check(recipe, torch.device("cpu"), seed=0)
    assert isinstance(check, CoverageCheck)
    others, other_labels = recipe.batches(torch.device("cpu"), 512, seed=123).next()  # not the check's real batch
    return recipe, check, DiscriminatorInput(D, pack_size=pack), others, other_labels


@pytest.mark.parametrize("pack", [1, 2])
def test_digits_coverage_in_d_feature_space_fires_on_collapse_and_not_on_real_digits(pack):
    recipe, check, d_input, others, labels = _digits_check(pack)
    healthy = check(recipe, ReplayG(others), d_input)
    assert healthy is not None and healthy.accuracy > 0.5
    assert (healthy.covered, healthy.judged, healthy.missing) == (10, 10, [])
    one_image = check(recipe, ReplayG(others[:1]), d_input)
    assert one_image.covered <= 2 and one_image.judged == 10
    six_classes = check(recipe, ReplayG(others[labels < 6]), d_input)
    assert (six_classes.covered, six_classes.missing) == (6, ["6", "7", "8", "9"]), six_classes
    assert d_input.training  # eval mode only during the check


def test_mode_coverage_on_the_grid():
    modes = grid_modes()
    everywhere = mixture(modes, 0.05, 2500, seed=1)
    assert mode_coverage(everywhere, modes, 0.05) == Coverage(25, 25, [], 1.0, "modes")
    twenty = mixture(modes[:20], 0.05, 2500, seed=2)
    partial = mode_coverage(twenty, modes, 0.05)
    assert (partial.covered, partial.judged) == (20, 25)
    assert partial.missing == ["(4, -4)", "(4, -2)", "(4, 0)", "(4, 2)", "(4, 4)"]
    ring = mode_coverage(mixture(ring_modes()[1:], 0.01, 2500, seed=4), ring_modes(), 0.01)
    assert (ring.covered, ring.missing) == (7, ["(1, 0)"])
    smeared = torch.randn(2500, 2, generator=torch.Generator().manual_seed(3)) * 3  # G still finding the modes
    assert mode_coverage(smeared, modes, 0.05) is None


def test_which_runs_get_a_coverage_check():
    def check_for(**values):
        config = TrainConfig(**{"resolution": 16, "channels": 1, "latent_dim": 8, **values})
        recipe_type = recipe_for(config)
        return make_coverage_check(recipe_type(config, recipe_type.load_data(config, quiet=True)),
                                   torch.device("cpu"), 0)

    assert check_for(data="digits") is not None
    assert check_for(data="digits", conditional=True) is None  # a conditional G makes every class on request
    assert check_for(data="grid", model="mlp", latent_dim=2) is not None
    assert check_for(data="stacked-digits", channels=3) is None  # 1,000 classes: too many for 256 samples


def test_doctor_reports_missing_classes_in_plain_words_after_patience():
    doctor = TrainingDoctor(warmup_steps=100, coverage_patience=2)
    record = {"step": 0, "D/real_prob": 0.6, "D/fake_prob": 0.4}
    partial = Coverage(6, 10, ["1", "4", "7", "9"], 0.9)
    events = [e for step in (50, 150, 200) for e in doctor.check({**record, "step": step}, 0.9, partial)]
    assert [(e.step, e.kind) for e in events] == [(200, "doctor/coverage")]  # step 50 is in the warm-up
    assert events[0].message.startswith("G's samples cover 6 of 10 classes of the data (missing: 1, 4, 7, 9)")
    assert "--pack 2" in events[0].message
    full = Coverage(10, 10, [], 0.9)
    assert [e for step in range(300, 800, 50)
            for e in TrainingDoctor(coverage_patience=2).check({**record, "step": step}, 0.9, full)] == []
    twenty = Coverage(20, 25, ["(4, 4)"], 1.0, "modes")
    modes = TrainingDoctor(coverage_patience=1).check({**record, "step": 500}, None, twenty)
    assert "hit 20 of 25 modes of the data (within 3 std) (missing: (4, 4)) for 1 log windows" in modes[0].message


def test_a_collapsed_generator_is_reported_in_a_training_run(tiny_config, tmp_path):
    """G's last layer zeroed: it draws one flat image whatever z; the run logs coverage and the event."""
    config = replace(tiny_config, total_steps=3, log_every=1, sample_every=1000, augment="off")
    trainer = Trainer(config, tmp_path / "run", quiet=True)
    trainer.remedies.doctor = TrainingDoctor(warmup_steps=0, coverage_patience=2)
    with torch.no_grad():
        trainer.G.net[-2].weight.zero_()  # the last (transposed) conv, before tanh: G(z) = 0 for every z
    trainer.run()
    records = read_metrics(tmp_path / "run" / "metrics.jsonl")
    covered = [r["doctor/classes_covered"] for r in records if "doctor/classes_covered" in r]
    assert len(covered) == 3 and max(covered) <= 2
    events = [r for r in records if r.get("event") == "doctor/coverage"]
    assert [e["step"] for e in events] == [2] and "classes of the data (missing: " in events[0]["message"]


def test_a_class_or_mode_dropped_for_a_few_windows_is_not_reported():
    """A learning G loses a mode now and then (recommended grid run: 24/25 for a few hundred steps, then 25/25)."""
    doctor = TrainingDoctor()
    record = {"D/real_prob": 0.6, "D/fake_prob": 0.4}
    dropped, full = Coverage(24, 25, ["(2, 0)"], 1.0, "modes"), Coverage(25, 25, [], 1.0, "modes")
    trace = ([dropped] * 9 + [full]) * 3
    assert [e for i, c in enumerate(trace) for e in doctor.check({**record, "step": 1000 + 100 * i}, 1.0, c)] == []
    assert [e.kind for i in range(10) for e in doctor.check({**record, "step": 5000 + 100 * i}, 1.0, dropped)] == [
        "doctor/coverage"]


def test_coverage_judges_the_ema_generator_that_sampling_uses():
    recipe, check, d_input, others, _ = _digits_check()
    remedies = Remedies(recipe.config, d_input.D, torch.optim.Adam(d_input.D.parameters()))
    inputs, real = recipe.sample_inputs(torch.device("cpu")), others[:4]
    record = {"step": 300}
    remedies.examine(record, recipe, ReplayG(others[:1]), inputs, real, check, G_ema=ReplayG(others))
    assert (record["doctor/classes_covered"], record["doctor/classes_judged"]) == (10, 10)
    remedies.examine(record, recipe, ReplayG(others), inputs, real, check, G_ema=ReplayG(others[:1]))
    assert record["doctor/classes_covered"] <= 2
    remedies.examine(record, recipe, ReplayG(others[:1]), inputs, real, check)  # no EMA: G itself
    assert record["doctor/classes_covered"] <= 2
