"""The thread count chosen by timing (ganforge/threads.py), its use in the loop, and progress lines off a terminal."""

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from ganforge.threads import ThreadChooser, candidate_counts, chosen_threads, unit
from ganforge.training.loop import train
from ganforge.training.progress_lines import ProgressLines, format_duration
from tests.helpers import run_cli


class FakeWork:
    """A clock that moves only when work runs, by the current cost of a unit at the current thread count."""

    def __init__(self, cost: dict[int, float]) -> None:
        self.cost, self.now, self.threads, self.calls = cost, 0.0, None, []

    def set_threads(self, count: int) -> None:
        self.threads = count
        self.calls.append(count)

    def clock(self) -> float:
        return self.now

    def run(self, chooser: ThreadChooser, units: int) -> None:
        for _ in range(units):
            with chooser.unit():
                self.now += self.cost[self.threads]


@pytest.fixture
def two_threads(monkeypatch):
    """Two intra-op threads and no OMP_NUM_THREADS (which fixes the count), so that there is a count to choose."""
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def test_candidate_counts():
    assert candidate_counts(1) == [1]
    assert candidate_counts(2) == [1, 2]
    assert candidate_counts(6) == [1, 2, 4, 6]
    assert candidate_counts(8) == [1, 2, 4, 8]


@pytest.mark.parametrize("cost, best", [({1: 0.05, 2: 0.09}, 1), ({1: 0.10, 2: 0.06}, 2),
                                        ({1: 0.30, 2: 0.20, 4: 0.12}, 4), ({1: 0.20, 2: 0.12, 4: 0.30}, 2),
                                        ({1: 0.07, 2: 0.07}, 2), ({1: 0.066, 2: 0.07}, 2)])  # under 10%: kept
def test_the_fastest_count_is_kept(cost, best):
    work = FakeWork(cost)
    chooser = ThreadChooser(sorted(cost), work.set_threads, clock=work.clock, warmup=2, settle=1, trial=3)
    assert work.threads == max(cost)  # the warm-up runs at the most threads
    work.run(chooser, 2 + len(cost) * 4)
    assert chooser.chosen == best and work.threads == best
    assert chooser.timings == pytest.approx(cost)


def test_warmup_units_are_not_counted():
    work = FakeWork({1: 0.05, 2: 0.04})
    chooser = ThreadChooser([1, 2], work.set_threads, clock=work.clock, warmup=2, settle=0, trial=3)
    work.cost[2] = 5.0  # first use: slow
    work.run(chooser, 2)
    work.cost[2] = 0.04
    work.run(chooser, 6)
    assert chooser.chosen == 2


def test_checked_again_later_and_when_the_work_slows_down():
    work = FakeWork({1: 0.05, 2: 0.03})
    announced = []
    chooser = ThreadChooser([1, 2], work.set_threads, clock=work.clock, warmup=0, settle=0, trial=2,
                            recheck_s=100.0, slowdown=2.0, min_gap_s=1.0, announce=announced.append)
    work.run(chooser, 4)
    assert chooser.chosen == 2 and len(announced) == 1 and "threads: 2" in announced[0]
    work.cost = {1: 0.06, 2: 0.50}  # another program takes a core: 2 threads now wait on each other
    work.run(chooser, 5 + 4)  # 5 slow units after the gap, then a trial of both counts
    assert chooser.chosen == 1 and chooser.trials == 2 and "threads: 1" in announced[-1]
    work.cost = {1: 0.06, 2: 0.03}  # the core is free again: nothing slows down, the periodic check finds it
    units = 0
    while chooser.chosen == 1 and units < 5000:
        work.run(chooser, 1)
        units += 1
    assert chooser.chosen == 2 and work.now >= 100.0


def test_chosen_threads_fixed_count_and_restore():
    before = torch.get_num_threads()
    with chosen_threads(1) as chooser:
        assert chooser is None and torch.get_num_threads() == 1
        with unit():  # nothing to time outside a choosing block
            pass
    assert torch.get_num_threads() == before


def test_chosen_threads_chooses_by_timing_units(two_threads, monkeypatch):
    with chosen_threads(0) as chooser:
        assert chooser is not None and chooser.counts == [2, 1]
        for _ in range(20):
            with unit():
                torch.ones(64, 64) @ torch.ones(64, 64)
        assert chooser.chosen in (1, 2) and torch.get_num_threads() == chooser.chosen
    assert torch.get_num_threads() == 2
    with chosen_threads(0, device="cuda") as on_gpu:
        assert on_gpu is None
    monkeypatch.setenv("OMP_NUM_THREADS", "2")  # the user's (or torchrun's) fixed count
    with chosen_threads(0) as fixed:
        assert fixed is None and torch.get_num_threads() == 2


def test_passive_waiting_is_set_before_torch_loads_and_a_user_setting_is_kept():
    code = "import os, ganforge; print(os.environ.get('OMP_WAIT_POLICY'))"
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2] / "src")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "PASSIVE"
    out = subprocess.run([sys.executable, "-c", code], env={**env, "GOMP_SPINCOUNT": "300000"},
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "None"


def _records(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_the_loop_chooses_when_no_count_is_given(tmp_path, tiny_config, capsys, two_threads):
    train(replace(tiny_config, threads=0, total_steps=16, log_every=4, sample_every=16, checkpoint_every=16),
          tmp_path / "auto")
    assert torch.get_num_threads() == 2  # restored after the loop
    err = capsys.readouterr().err
    assert "threads: " in err and "--threads N fixes the count" in err
    assert {r["time/threads"] for r in _records(tmp_path / "auto") if "time/threads" in r} <= {1, 2}


def test_threads_flag_is_respected_and_accepted_on_resume(tmp_path, capsys, two_threads):
    run = tmp_path / "run"
    tiny = ["--data", "digits", "--resolution", "16", "--channels", "1", "--latent-dim", "8", "--g-width", "8",
            "--d-width", "8", "--batch-size", "8", "--log-every", "2", "--sample-every", "4", "--precision", "fp32",
            "--device", "cpu"]
    code, err = run_cli(["train", "--out", str(run), "--steps", "4", "--threads", "1", *tiny], capsys)
    assert code == 0 and "threads: " not in err
    assert [r["time/threads"] for r in _records(run)] == [1, 1]
    code, err = run_cli(["train", "--resume", str(run), "--steps", "8", "--threads", "2", "--log-every", "2"], capsys)
    assert code == 0 and "threads: " not in err
    assert [r["time/threads"] for r in _records(run) if r["step"] > 4] == [2, 2]


def test_progress_lines_when_stderr_is_not_a_terminal(tmp_path, capsys):
    """capsys's stderr is not a terminal, as under nohup or CI: one plain line per log record, with ETA."""
    code, err = run_cli(["train", "--data", "digits", "--out", str(tmp_path / "run"), "--steps", "6",
                         "--resolution", "16", "--channels", "1", "--latent-dim", "8", "--g-width", "8",
                         "--d-width", "8", "--batch-size", "8", "--log-every", "2", "--precision", "fp32",
                         "--threads", "1"], capsys)
    lines = [line for line in err.splitlines() if line.startswith("step ")]
    assert code == 0 and lines and lines[-1].startswith("step 6/6 (100%)")
    assert all("img/s" in line and "D " in line and "G " in line and "ETA" in line for line in lines)
    assert "\r" not in err  # no bar redrawn in place


def test_progress_lines_every_few_seconds_and_the_last_one():
    class Clock:
        now = 0.0

        def __call__(self):
            return self.now

    clock, printed = Clock(), []

    class Sink:
        def write(self, text):
            printed.append(text)

        def flush(self):
            pass

    bar = ProgressLines(100, file=Sink(), every_s=10.0, clock=clock)
    for step in range(1, 101):
        clock.now += 0.5
        bar.update(1)
        if step % 5 == 0:
            bar.set_postfix_str("D 1.000 img/s 99")
    bar.close()
    lines = [text for text in printed if text.strip()]
    assert lines[0].startswith("step 5/100 (5%) | D 1.000 img/s 99 | ETA 48s")  # 95 steps left at 0.5 s each
    assert len(lines) == 6  # the first at 2.5 s, then at 12.5, 22.5, 32.5 and 42.5 s, and the last at 50 s
    assert lines[-1].startswith("step 100/100 (100%)") and "ETA 0s" in lines[-1]
    assert format_duration(3725) == "1h02m" and format_duration(185) == "3m05s" and format_duration(42) == "42s"


def test_stylize_chooses_by_timing_its_steps_or_takes_the_flag(tmp_path, capsys, two_threads):
    from PIL import Image

    from ganforge.style import StyleConfig, stylize

    picture = Image.fromarray(torch.arange(20 * 28 * 3).reshape(20, 28, 3).remainder(251).byte().numpy())
    config = StyleConfig(features="random", size=24, steps=12, scales=1, device="cpu", precision="fp32")
    stylize(picture, [picture], config, progress=True)
    assert "threads: " in capsys.readouterr().err
    for name in ("c.png", "s.png"):
        picture.save(tmp_path / name)
    code, err = run_cli(["stylize", str(tmp_path / "c.png"), str(tmp_path / "s.png"), "-o", str(tmp_path / "o.png"),
                         "--size", "24", "--steps", "12", "--scales", "1", "--features", "random", "--threads", "1"],
                        capsys)
    assert code == 0 and "threads: " not in err and torch.get_num_threads() == 2
    code, err = run_cli(["stylize", str(tmp_path / "c.png"), str(tmp_path / "s.png"), "-o", str(tmp_path / "o.png"),
                         "--threads", "-1"], capsys)
    assert code == 2 and "--threads must be a whole number from 0" in err


def test_eval_chooses_by_timing_feature_batches_or_takes_the_flag(trained_run, tmp_path, capsys, two_threads):
    import shutil

    run = shutil.copytree(trained_run, tmp_path / "run")
    code, err = run_cli(["eval", str(run), "--metrics", "kid", "-n", "2000", "--extractor", "random",
                         "--no-cache"], capsys)
    assert code == 0 and "threads: " in err
    code, err = run_cli(["eval", str(run), "--metrics", "kid", "-n", "64", "--extractor", "random", "--threads", "1"],
                        capsys)
    assert code == 0 and "threads: " not in err and torch.get_num_threads() == 2
    code, err = run_cli(["eval", str(run), "--threads", "5000"], capsys)
    assert code == 2 and "--threads must be a whole number from 0 to 1,024, got 5000" in err
