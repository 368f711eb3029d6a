"""Every number and path that reaches a command has a limit: a bad value is one line on stderr and exit code 2,
before any run is loaded or any work starts (train's own flags: tests/config/test_reliability_validation.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganforge.data import input_limits

from helpers import run_cli

pytestmark = pytest.mark.reliability

BAD = [
    # sample: -n in all, also per class or category named
    (["sample", "RUN", "-o", "x.png", "-n", "50000", "--class", "1", "--class", "2", "--class", "3"],
     "-n 50000 for each of 3 classes or categories makes 150,000 samples; at most 100,000 in all"),
    (["sample", "RUN", "-o", "x.png", "-n", "40000", "--category", "0", "--category", "1", "--category", "2"],
     "makes 120,000 samples"),
    # interpolate: each number, and the animation as a whole
    (["interpolate", "RUN", "-o", "x.gif", "--points", "64", "--frames", "1000"],
     "--points 64 x --frames 1000 makes 64,000 frames of 8 images; at most 10,000 frames"),
    (["interpolate", "RUN", "-o", "x.gif", "--walks", "64", "--points", "40", "--frames", "100"],
     "makes 4,000 frames of 64 images; at most 10,000 frames and 100,000 images in all"),
    (["interpolate", "RUN", "-o", "x.gif", "--walks", "65"], "--walks must be a whole number from 1 to 64, got 65"),
    # eval: generated samples, real images, seed
    (["eval", "RUN", "-n", "0"], "-n must be a whole number from 2 to 1,000,000, got 0"),
    (["eval", "RUN", "-n", "99999999"], "-n must be a whole number from 2 to 1,000,000, got 99999999"),
    (["eval", "RUN", "--n-real", "1"], "--n-real must be a whole number from 2 to 10,000,000, got 1"),
    (["eval", "RUN", "--n-real", "-5"], "--n-real must be a whole number"),
    (["eval", "RUN", "--seed", "-1"], "--seed must be a whole number from 0 to 4,294,967,295, got -1"),
    (["eval", "RUN", "-n", "ten"], "argument -n/--num: invalid int value: 'ten'"),
    # stylize: sizes, steps, scales, weights, seed
    (["stylize", "C", "S", "-o", "o.png", "--size", "100000"], "--size must be a whole number from 16 to 4,096"),
    (["stylize", "C", "S", "-o", "o.png", "--size", "8"], "--size must be a whole number from 16 to 4,096, got 8"),
    (["stylize", "C", "S", "-o", "o.png", "--steps", "0"], "--steps must be a whole number from 1 to 100,000"),
    (["stylize", "C", "S", "-o", "o.png", "--steps", "10000000"], "--steps must be a whole number from 1 to 100,000"),
    (["stylize", "C", "S", "-o", "o.png", "--scales", "50"], "--scales must be a whole number from 0 to 8, got 50"),
    (["stylize", "C", "S", "-o", "o.png", "--save-every", "-1"], "--save-every must be a whole number from 0"),
    (["stylize", "C", "S", "-o", "o.png", "--seed", "-1"], "--seed must be a whole number from 0 to 4,294,967,295"),
    (["stylize", "C", "S", "-o", "o.png", "--lr", "nan"], "--lr must be a number greater than 0 and at most 1,000"),
    (["stylize", "C", "S", "-o", "o.png", "--style-weight", "inf"], "--style-weight must be a number at least 0"),
    (["stylize", "C", "S", "-o", "o.png", "--tv-weight", "-1"], "--tv-weight must be a number at least 0"),
    (["stylize", "C", "S", "-o", "o.png", "--style-strength", "1e6"], "--style-strength must be a number at least 0"),
    (["stylize", "C", "S", "-o", "o.png", "--style-scale", "0"], "--style-scale must be a number greater than 0"),
    (["stylize", "C", "S", "-o", "o.png", "--size", "4096", "--style-scale", "2"],
     "--size 4096 x --style-scale 2 makes the style image 8,192 px; at most 4,096"),
    (["stylize", "C", "S", "-o", "o.png", "--style-blend", "nan"], "--style-blend must be zero or positive numbers"),
    # bench modes: how many seeds, which seeds, the time budget
    (["bench", "modes", "--seeds", "1000"], "--seeds: a count must be from 1 to 100, got 1000"),
    (["bench", "modes", "--seeds", "0"], "--seeds: a count must be from 1 to 100, got 0"),
    (["bench", "modes", "--seeds", "0,5000000000"], "--seeds: expected seeds from 0 to 4,294,967,295 or a count"),
    (["bench", "modes", "--seeds", ",".join(map(str, range(101)))], "--seeds: at most 100 seeds, got 101"),
    (["bench", "modes", "--max-minutes", "inf"], "--max-minutes must be a number greater than 0 and at most 525,600"),
    (["bench", "modes", "--max-minutes", "0"], "--max-minutes must be a number greater than 0"),
    # paths: a file where a folder must go, a folder where a file must go
    (["train", "--out", "FILE", "--steps", "1"], "FILE: is a file; --out takes a folder for the run's files"),
    (["train", "--out", "{tmp}/new", "--config", "{tmp}"], "cannot read config"),
    (["report", "FILE"], "FILE: not a run directory (no config.json)"),
]




@pytest.mark.parametrize(("argv", "message"), BAD, ids=[" ".join(a)[:60] for a, _ in BAD])
def test_a_bad_value_is_one_line_and_exit_2(argv, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "FILE").write_text("a file")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    code, err = run_cli(argv, capsys)
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert message.replace("{tmp}", str(tmp_path)) in err, err
    assert not (tmp_path / "new").exists() and (tmp_path / "FILE").read_text() == "a file"


@pytest.mark.parametrize("command", [["sample", "RUN", "-n", "2", "-o", "FILE/x.png"],
                                     ["sample", "RUN", "-n", "2", "-o", "FILE/grid"],
                                     ["interpolate", "RUN", "-o", "FILE/x.gif", "--frames", "1", "--walks", "1"],
                                     ["export", "RUN", "-o", "FILE/g.onnx"]])
def test_an_output_that_cannot_be_written_is_one_line(command, trained_run, tmp_path, capsys, monkeypatch):
    """A file where the output's folder should be: the OSError becomes `PATH: reason`, exit 2."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "FILE").write_text("a file")
    argv = [str(trained_run) if a == "RUN" else a for a in command]
    code, err = run_cli(argv, capsys)
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert "error: FILE" in err and err.endswith("is a file, not a folder\n"), err
    assert (tmp_path / "FILE").read_text() == "a file"


def test_translate_refuses_an_image_too_large_to_translate_at_its_size(pix2pix_trained_run, tmp_path, capsys,
                                                                       monkeypatch):
    # the same check, at a size a test can write; the translate module first, so that importing it here binds
    # (and monkeypatch restores) the real limit, not the patched one
    monkeypatch.setattr("ganforge.inference.translate.TRANSLATE_PIXELS", 40 * 40)
    monkeypatch.setattr(input_limits, "TRANSLATE_PIXELS", 40 * 40)
    Image.fromarray(np.zeros((41, 40), np.uint8)).save(tmp_path / "big.png")
    Image.fromarray(np.zeros((40, 40), np.uint8)).save(tmp_path / "fits.png")
    code, err = run_cli(["translate", str(pix2pix_trained_run), str(tmp_path / "big.png"), "-o",
                      str(tmp_path / "out.png")], capsys)
    assert code == 2 and err.count("\n") == 1, err
    assert "big.png: too large (40x41 pixels; at most 1,600, e.g. 4096x4096, as each image is translated at its size)"\
        in err
    assert not (tmp_path / "out.png").exists()
    code, err = run_cli(["translate", str(pix2pix_trained_run), str(tmp_path / "big.png"), str(tmp_path / "fits.png"),
                      "-o", str(tmp_path / "out")], capsys)
    assert code == 0 and "warning: skipping" in err and "big.png: too large" in err  # one of several: skipped
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["fits.png"]


def test_input_files_larger_than_the_limit_are_refused_before_decoding(tmp_path, monkeypatch):
    from ganforge.data.folder import BadImage

    path = tmp_path / "huge.png"
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(path)
    monkeypatch.setattr(input_limits, "MAX_INPUT_BYTES", path.stat().st_size - 1)
    with pytest.raises(BadImage, match=r"too large \(0 MiB; input images may be at most 0 MiB\)"):
        input_limits.check_input_image(Path(path))


def test_stylize_refuses_an_input_file_too_large(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(input_limits, "MAX_INPUT_BYTES", 10)
    for name in ("c.png", "s.png"):
        Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(tmp_path / name)
    code, err = run_cli(["stylize", str(tmp_path / "c.png"), str(tmp_path / "s.png"), "-o", str(tmp_path / "o.png"),
                      "--size", "16", "--steps", "1", "--features", "random", "--quiet"], capsys)
    assert code == 2 and err.count("\n") == 1 and "c.png: too large" in err, err
