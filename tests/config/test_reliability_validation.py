"""Every numeric flag: negative, zero, absurd and non-numeric values give one-line errors naming the flag."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

import pytest

from ganforge.config import TrainConfig, flag_name
from ganforge.config.ranges import TRAIN_RANGES, Range

from helpers import run_cli

pytestmark = pytest.mark.reliability

NUMERIC_FIELDS = [f.name for f in fields(TrainConfig) if "int" in f.type or "float" in f.type]


def test_every_numeric_setting_has_a_range() -> None:
    missing = sorted(set(NUMERIC_FIELDS) - set(TRAIN_RANGES))
    assert not missing, f"add an allowed range for {missing} to ganforge/config/ranges.py TRAIN_RANGES"


def _bad_values(allowed: Range) -> list[str]:
    """Values outside the range: below it, zero where zero is excluded, absurdly large, non-numeric, NaN/inf."""
    values = ["abc", "", str(allowed.low - 1), str(-abs(allowed.high)), str(allowed.high * 1000 + 1)]
    if allowed.low > 0 or allowed.low_open:
        values.append("0")
    if allowed.whole:
        values.append("2.5")
    else:
        values += ["nan", "inf", "-inf"]
    return values


CASES = [(name, value) for name, allowed in TRAIN_RANGES.items() for value in _bad_values(allowed)]




@pytest.mark.parametrize(("name", "value"), CASES, ids=[f"{n}={v}" for n, v in CASES])
def test_train_rejects_bad_number_in_one_line(name: str, value: str, tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    code, err = run_cli(["train", "--out", str(out), f"{flag_name(name)}={value}"], capsys)
    assert code == 2
    assert err.count("\n") == 1, err
    assert flag_name(name) in err
    assert not out.exists(), "a rejected run must not leave a folder behind"


@pytest.mark.parametrize(("flag", "value", "expected"), [
    ("--batch-size", "0", "--batch-size must be a whole number from 1 to 65,536, got 0"),
    ("--lr-g", "-2e-4", "--lr-g must be a number greater than 0 and less than 1 (e.g. 2e-4), got -0.0002"),
    ("--steps", "1e30", "argument --steps: invalid int value: '1e30'"),
    ("--max-minutes", "1e9", "--max-minutes must be a number greater than 0 and at most 525,600"),
    ("--seed", "-1", "--seed must be a whole number from 0 to 4,294,967,295, got -1"),
    ("--epochs", "inf", "--epochs must be a number greater than 0 and at most 1,000,000, got inf"),
])
def test_messages_say_what_is_allowed(flag: str, value: str, expected: str, tmp_path: Path, capsys) -> None:
    code, err = run_cli(["train", "--out", str(tmp_path / "run"), f"{flag}={value}"], capsys)
    assert code == 2 and expected in err


def test_config_file_values_are_checked_like_flags(tmp_path: Path, capsys) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"batch_size": "64", "flip": "yes"}))
    code, err = run_cli(["train", "--out", str(tmp_path / "run"), "--config", str(config)], capsys)
    assert code == 2 and err.count("\n") == 1 and "--flip must be true or false" in err
    config.write_text(json.dumps({"batch_size": "64"}))
    code, err = run_cli(["train", "--out", str(tmp_path / "run"), "--config", str(config)], capsys)
    assert "--batch-size must be a whole number from 1 to 65,536, got '64'" in err


def test_the_defaults_and_edges_of_each_range_are_accepted() -> None:
    TrainConfig().validate()
    TrainConfig(batch_size=1, lr_g=1e-8, beta1=0.0, ema_beta=0.0, seed=0, nan_retries=0, total_steps=10**9).validate()
    TrainConfig(batch_size=65536, seed=2**32 - 1, max_minutes=525_600, epochs=1e6).validate()


@pytest.mark.parametrize("argv", [
    ["sample", "run", "-o", "x.png", "-n", "0"],
    ["sample", "run", "-o", "x.png", "-n", "10000000"],
    ["sample", "run", "-o", "x.png", "-n", "many"],
    ["sample", "run", "-o", "x.png", "--seed", "-5"],
    ["sample", "run", "-o", "x.png", "--truncation", "nan"],
    ["sample", "run", "-o", "x.png", "--truncation", "1.5"],
    ["serve", "run", "--port", "0"],
    ["serve", "run", "--port", "70000"],
    ["serve", "run", "--port", "http"],
    ["interpolate", "run", "-o", "x.gif", "--walks", "0"],
    ["interpolate", "run", "-o", "x.gif", "--points", "1"],
    ["interpolate", "run", "-o", "x.gif", "--frames", "100000"],
    ["interpolate", "run", "-o", "x.gif", "--fps", "-1"],
    ["interpolate", "run", "-o", "x.gif", "--seed", "x"],
])
def test_other_commands_reject_bad_numbers_in_one_line(argv: list[str], capsys) -> None:
    code, err = run_cli(argv, capsys)
    assert code == 2 and err.count("\n") == 1
    assert argv[-2] in err  # the flag
