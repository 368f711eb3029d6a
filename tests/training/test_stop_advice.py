"""When to stop: the cheap KID in the folder's own features, and the doctor's advice on a stand-in score sequence."""

import json

import pytest
import torch

from ganforge.data.builtin import shapes
from ganforge.data.dataset import ImageDataset
from ganforge.metrics import own_features as own
from ganforge.training.stop_advice import FAR_WARMUP_STEPS, StopAdvice


def _advise(advice: StopAdvice, values: list[float], every: int = 100, start: int = 100) -> list:
    events = []
    for i, value in enumerate(values):
        events += advice.observe(start + i * every, value)
    return events


def test_a_plateau_names_the_best_step_once():
    advice = StopAdvice("kid", patience=5)
    events = _advise(advice, [0.09, 0.07, 0.05, 0.06, 0.055, 0.052, 0.058, 0.051, 0.06])
    assert [e.kind for e in events] == ["doctor/plateau"]
    assert events[0].step == 800  # the fifth evaluation without a new best
    assert events[0].message.startswith("KID has not improved for 5 evaluations: the best checkpoint is step 300 "
                                        "(KID 0.05, now 0.051)")


def test_an_improving_score_gets_no_advice_and_a_new_plateau_is_told_again():
    advice = StopAdvice("kid", patience=3)
    assert _advise(advice, [0.9, 0.8, 0.7, 0.6, 0.5, 0.4]) == []
    assert [e.kind for e in _advise(advice, [0.45, 0.41, 0.42], start=700)] == ["doctor/plateau"]
    assert _advise(advice, [0.43, 0.44], start=1000) == []  # told once per plateau
    assert _advise(advice, [0.3], start=1200) == []  # a new best...
    again = _advise(advice, [0.31, 0.32, 0.33], start=1300)  # ...and a new plateau
    assert len(again) == 1 and "the best checkpoint is step 1200" in again[0].message


def test_higher_is_better_scores_plateau_too():
    advice = StopAdvice("recall", patience=2)
    events = _advise(advice, [0.2, 0.4, 0.3, 0.35])
    assert len(events) == 1 and "recall has not improved for 2 evaluations: the best checkpoint is step 200" in \
        events[0].message


def test_far_from_the_data_after_warmup_and_quiet_when_near():
    far = StopAdvice("kid", blurred=1.0)
    events = _advise(far, [3.0, 2.0, 1.8, 1.5, 1.4, 1.3], every=500, start=500)
    assert [e.kind for e in events] == ["doctor/far_from_data"]
    assert events[0].step == 2000  # three evaluations in a row from step 1000 on
    assert "farther from the real images than the real images blurred by 2 px" in events[0].message
    assert "KID 1.5 vs 1" in events[0].message
    near = StopAdvice("kid", blurred=1.0)
    assert _advise(near, [3.0, 0.9, 0.8, 0.7, 0.6], every=500, start=FAR_WARMUP_STEPS - 500) == []


def test_the_advice_resumes_where_it_was():
    advice = StopAdvice("kid", patience=4)
    _advise(advice, [0.5, 0.4, 0.45, 0.46])
    resumed = StopAdvice("kid", patience=4)
    resumed.load_state_dict(json.loads(json.dumps(advice.state_dict())))
    assert _advise(resumed, [0.47, 0.48], start=500) == _advise(advice, [0.47, 0.48], start=500)


@pytest.fixture
def fast_classifier(monkeypatch):
    monkeypatch.setattr(own, "CLASSIFIER_STEPS", 30)


def test_own_features_hold_out_images_and_blur_is_farther_than_the_floor(fast_classifier):
    data = shapes(resolution=32, count=150, seed=0)
    features = own.own_features(data, seed=0)
    assert len(features.heldout) == 30 and features.train_count == 120
    assert "categories" in features.task
    assert features.blurred > features.floor
    samples = torch.from_numpy(data.images[:40].numpy())
    mean, std = features.kid(own._features(features.extractor, own.from_uint8(samples)))
    assert mean < features.blurred and std >= 0


def test_an_unlabelled_folder_learns_which_way_up(fast_classifier):
    data = shapes(resolution=16, count=40, seed=0)
    features = own.own_features(ImageDataset(data.images, name="unlabelled"), seed=1)
    assert "which way up" in features.task and len(features.heldout) == 8
    turned, labels = own.rotations(data.images[:2])
    assert turned.shape == (8, 16, 16, 3) and labels.tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert torch.equal(turned[2], torch.rot90(data.images[0], 1, dims=(0, 1)))


def test_too_few_images_are_refused():
    from ganforge.errors import GanforgeError

    with pytest.raises(GanforgeError, match="at least 6 images"):
        own.heldout_split(5, 0)


def test_a_run_scores_its_own_kid_keeps_best_and_logs_it(fast_classifier, tmp_path, capsys):
    from helpers import run_cli

    folder = tmp_path / "data"
    data = shapes(resolution=16, count=24, seed=0)
    from ganforge.images import save_png

    for i, image in enumerate(data.images.numpy()):
        save_png(folder / data.class_names[int(data.labels[i])] / f"{i}.png", image)
    run = tmp_path / "run"
    code, err = run_cli(["train", "--data", str(folder), "--resolution", "16", "--latent-dim", "8", "--g-width", "8",
                         "--d-width", "8", "--batch-size", "8", "--steps", "4", "--log-every", "2",
                         "--eval-every", "2", "--eval-extractor", "data", "--eval-samples", "20", "--precision",
                         "fp32", "--out", str(run)], capsys)
    assert code == 0, err
    assert "KID in the folder's own features" in err
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    scored = [r for r in records if "eval/kid" in r]
    assert [r["step"] for r in scored] == [2, 4]
    assert scored[0]["eval/provenance"]["blurred_kid"] > 0
    assert (run / "checkpoints" / "best.pt").is_file()
    config = json.loads((run / "config.json").read_text())
    assert json.dumps(config).count('"eval_metric": "kid"') == 1
