"""`ganforge bench modes`: argument checks, and one very short run scored and tabulated end to end."""

from __future__ import annotations

import json

import pytest

from ganforge.cli import main
from ganforge.config.train_config import saved_settings
from ganforge.training.mode_benchmarks import BenchRun, format_table, run_one


def test_a_short_ring_run_is_trained_scored_and_tabulated(tmp_path):
    run = run_one("ring", "recommended", seed=0, minutes=0.04, out_dir=tmp_path / "ring")
    assert run.modes_total == 8 and 0 <= run.modes <= 8 and 0.0 <= run.high_quality <= 1.0
    assert run.steps >= 1 and run.cpu_s >= 2.4  # the budget is CPU time: 0.04 min = 2.4 s
    saved = saved_settings((tmp_path / "ring" / "config.json").read_text())
    assert saved["checkpoint_every"] == 10_000  # bench runs keep few periodic checkpoints (scored from the last)
    table = format_table([run, BenchRun("stacked-digits", "plain", 0, 10, 1.0, 1.0, 12, 1000, kl=2.5,
                                        read_fraction=0.5)])
    assert "ring" in table and "PacGAN: 1000/1000 modes, KL 0.06" in table and "2.500" in table


def test_bench_cli_end_to_end_and_bad_arguments(tmp_path, capsys):
    out = tmp_path / "runs"
    assert main(["bench", "modes", "--only", "ring", "--seeds", "1", "--recipes", "plain", "--max-minutes", "0.02",
                 "--out", str(out), "--json", str(tmp_path / "scores.json")]) == 0
    printed = capsys.readouterr().out
    assert "ring            plain        seed 0" in printed and "published (best)" in printed
    assert json.loads((tmp_path / "scores.json").read_text())[0]["benchmark"] == "ring"
    assert (out / "ring-plain-seed0" / "checkpoints" / "latest.pt").is_file()
    for args, message in [(["--only", "rings"], "--only: unknown rings"), (["--seeds", "a,b"], "--seeds"),
                          (["--max-minutes", "0"], "--max-minutes"), (["--out", str(out)], "already holds files")]:
        assert main(["bench", "modes", *args]) == 2
        assert message in capsys.readouterr().err


@pytest.mark.slow
def test_recommended_recipe_covers_the_ring_in_three_cpu_minutes(tmp_path):
    """The target for one seed: all 8 modes, 97% of samples of high quality (the full 5-seed table is
    `ganforge bench modes --only ring`)."""
    run = run_one("ring", "recommended", seed=0, minutes=3.0, out_dir=tmp_path / "ring")
    assert run.modes == 8 and run.high_quality >= 0.97
