"""Evaluation end to end: scores fall as a tiny run trains, collapse is caught, best.pt is kept, the CLI records."""

import dataclasses
import json
import shutil

import pytest
import torch
from torch import nn

from ganforge.checkpoint import load_checkpoint
from ganforge.cli import main
from ganforge.data import load_dataset
from ganforge.inference.sampling import load_generator
from ganforge.metrics.evaluate import evaluate_run
from ganforge.metrics.evaluator import EvalSettings, Evaluator
from ganforge.metrics.features import create_extractor
from ganforge.metrics.scores import BestScore
from ganforge.training.loop import Trainer, train
from ganforge.training.metrics_log import read_metrics


@pytest.fixture(scope="module", autouse=True)
def _tiny_work_on_one_thread(one_thread):
    with one_thread():
        yield


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory, request):
    """100 steps on 16 px digits (a high learning rate to get far quickly), scored by the digits extractor."""
    from ganforge.config import TrainConfig

    out = tmp_path_factory.mktemp("runs") / "digits"
    config = TrainConfig(data="digits", resolution=16, channels=1, latent_dim=16, g_width=16, d_width=16,
                         batch_size=32, total_steps=100, log_every=50, sample_every=1000, checkpoint_every=50,
                         sample_count=4, precision="fp32", device="cpu", seed=0, eval_every=50, eval_samples=300,
                         eval_extractor="digits", lr_g=1e-3, lr_d=1e-3, augment="off")  # ADA would slow it down
    train(config, out, quiet=True)
    return out


def eval_records(run):
    return [r for r in read_metrics(run / "metrics.jsonl") if "eval/fid" in r]


def test_scores_fall_as_training_goes_on_and_best_pt_is_the_best_step(digits_run):
    records = eval_records(digits_run)
    assert [r["step"] for r in records] == [50, 100]
    fids, kids = [r["eval/fid"] for r in records], [r["eval/kid"] for r in records]
    assert fids[-1] < 0.8 * fids[0] and kids[-1] < 0.8 * kids[0]
    best_step = 100
    assert load_checkpoint(digits_run / "checkpoints" / "best.pt")["step"] == best_step
    saved = load_checkpoint(digits_run / "checkpoints" / "latest.pt")["eval"]
    assert {key: saved[key] for key in ("score", "value", "step")} == {
        "score": "fid", "value": min(fids), "step": best_step}
    assert saved["advice"]["best_step"] == best_step  # the stop advice resumes from the same best
    provenance = records[-1]["eval/provenance"]
    assert provenance["extractor"] == "digits" and provenance["n_gen"] == 300 and provenance["n_real"] == 1797
    assert "| 100 |" in (digits_run / "eval.md").read_text()


class Collapsed(nn.Module):
    """The same generator fed one latent for every sample: deliberate mode collapse."""

    def __init__(self, G: nn.Module) -> None:
        super().__init__()
        self.G = G

    def forward(self, z):
        return self.G(z[:1].expand_as(z))


def test_a_collapsed_generator_ranks_far_worse_than_the_trained_one(digits_run):
    loaded = load_generator(digits_run / "checkpoints" / "latest.pt")
    data = load_dataset("digits", 16, 1)
    evaluator = Evaluator(data, create_extractor("digits"), EvalSettings(metrics=("fid", "kid", "pr"), n_gen=300))
    trained = evaluator(loaded.G, loaded.latent_dim, step=100)
    collapsed = evaluator(Collapsed(loaded.G), loaded.latent_dim, step=100)
    print({k: (round(trained[k], 4), round(collapsed[k], 4)) for k in trained if k.startswith("eval/") and k[5:] in
           ("fid", "kid", "precision", "recall", "density", "coverage")})
    assert collapsed["eval/fid"] > 2 * trained["eval/fid"]
    assert collapsed["eval/kid"] > 1.5 * trained["eval/kid"]
    assert collapsed["eval/recall"] < 0.5 * trained["eval/recall"]  # recall is the score made to see collapse
    assert collapsed["eval/coverage"] < 0.5 * trained["eval/coverage"]


def test_eval_command_scores_every_checkpoint_and_records_provenance(digits_run, tmp_path, capsys):
    run = shutil.copytree(digits_run, tmp_path / "run")
    code = main(["eval", str(run), "--all", "--metrics", "fid,kid,pr,is,memorisation", "-n", "64", "--quiet",
                 "--extractor", "digits"])
    assert code == 0
    scored = [r for r in read_metrics(run / "metrics.jsonl") if "eval/copies" in r]
    assert [r["step"] for r in scored] == [0, 50, 100]  # every checkpoint, the step-0 one included
    p = scored[-1]["eval/provenance"]
    for field in ("extractor", "weights_sha256", "resize", "precision", "data_sha256", "split", "n_real", "n_gen",
                  "seed", "metric_version", "kid_subset_size", "pr_k", "checkpoint"):
        assert field in p, field
    assert p["n_gen"] == 64 and p["kid_subset_size"] == 64 and p["checkpoint"].endswith("step-0000100.pt")
    assert (run / "eval" / "closest-pairs-0000100.png").is_file()
    table = capsys.readouterr().out
    assert table.startswith("| step | fid | kid | precision | recall | density | coverage | is | copies |")
    assert (run / "eval.md").read_text().count("step-0000") == 3


def test_evaluate_run_returns_plain_scores_and_records_them(digits_run, tmp_path):
    run = shutil.copytree(digits_run, tmp_path / "run")
    scores = evaluate_run(run, metrics=["kid"], samples=64, extractor="digits", quiet=True)
    assert set(scores) == {"kid", "kid_std"} and all(isinstance(v, float) for v in scores.values())
    last = read_metrics(run / "metrics.jsonl")[-1]
    assert last["eval/kid"] == scores["kid"] and last["eval/provenance"]["checkpoint"].endswith("latest.pt")
    same = evaluate_run(run / "checkpoints" / "latest.pt", "kid", 64, extractor="digits", quiet=True)
    assert same == scores  # a run folder and its latest checkpoint are the same request


@pytest.mark.parametrize(("args", "message"), [
    (["--metrics", "fid,sharpness"], "--metrics: unknown sharpness"),
    (["--metrics", "is", "--extractor", "random"], "needs an extractor that is a classifier"),
    (["--extractor", "inceptoin-v3"], "Did you mean 'inception-v3'"),
    (["-n", "1"], "-n must be a whole number from 2 to 1,000,000, got 1"),
])
def test_eval_command_bad_input_is_one_clear_line(digits_run, tmp_path, capsys, args, message):
    run = shutil.copytree(digits_run, tmp_path / "run")
    assert main(["eval", str(run), "--quiet", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and "Traceback" not in err


def test_eval_of_a_missing_run(tmp_path, capsys):
    assert main(["eval", str(tmp_path / "nope")]) == 2
    assert "no such run directory" in capsys.readouterr().err


def test_scoring_during_training_does_not_change_the_training(tiny_config, tmp_path):
    plain = train(tiny_config, tmp_path / "plain", quiet=True)
    scored = train(dataclasses.replace(tiny_config, eval_every=2, eval_samples=16, eval_extractor="random"),
                   tmp_path / "scored", quiet=True)
    a, b = load_checkpoint(plain.checkpoint), load_checkpoint(scored.checkpoint)
    assert all(torch.equal(a["G"][k], b["G"][k]) for k in a["G"])
    assert b["eval"]["step"] in (2, 4) and a["eval"] is None


def test_resume_keeps_the_best_score(tiny_config, tmp_path):
    config = dataclasses.replace(tiny_config, eval_every=2, eval_samples=16, eval_extractor="random")
    train(config, tmp_path / "run", quiet=True)
    before = load_checkpoint(tmp_path / "run" / "checkpoints" / "latest.pt")["eval"]
    resumed = Trainer(dataclasses.replace(config, total_steps=6), tmp_path / "run", resume=True, quiet=True)
    assert resumed.evaluator.state_dict() == before  # the best score and the stop advice's counters


def test_best_score_directions():
    fid = BestScore("fid")
    assert fid.update(10.0, 1) and not fid.update(12.0, 2) and fid.update(9.0, 3) and fid.step == 3
    assert not fid.update(float("nan"), 4)
    recall = BestScore("recall")
    assert recall.update(0.2, 1) and recall.update(0.3, 2) and not recall.update(0.1, 3)


def test_eval_metric_is_validated(tiny_config):
    from ganforge.errors import GanforgeError

    with pytest.raises(GanforgeError, match="--eval-metric must be one of fid, kid, .*, got 'sharpness'"):
        dataclasses.replace(tiny_config, eval_every=2, eval_metric="sharpness").validate()
    with pytest.raises(GanforgeError, match="--eval-every"):
        dataclasses.replace(tiny_config, eval_every=-1).validate()


def test_metrics_file_stays_readable_json(digits_run):
    for line in (digits_run / "metrics.jsonl").read_text().splitlines():
        json.loads(line)


def test_class_conditional_runs_are_scored_with_labels_in_the_data_proportions(tiny_config, tmp_path):
    config = dataclasses.replace(tiny_config, conditional=True, eval_every=2, eval_samples=16,
                                 eval_extractor="random")
    train(config, tmp_path / "run", quiet=True)
    during = [r for r in read_metrics(tmp_path / "run" / "metrics.jsonl") if "eval/fid" in r]
    assert [r["step"] for r in during] == [2, 4]
    assert main(["eval", str(tmp_path / "run"), "-n", "16", "--extractor", "random", "--metrics", "fid,memorisation",
                 "--quiet"]) == 0
    last = read_metrics(tmp_path / "run" / "metrics.jsonl")[-1]
    assert "proportions" in last["eval/provenance"]["labels"] and (tmp_path / "run" / "eval").is_dir()


def test_pix2pix_runs_cannot_ask_for_eval_every(tiny_config):
    from ganforge.errors import GanforgeError

    with pytest.raises(GanforgeError, match="--eval-every scores noise-to-image generators"):
        dataclasses.replace(tiny_config, model="pix2pix", data="edges2digits", eval_every=2).validate()
