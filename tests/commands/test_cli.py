"""The command line end to end on a tiny run, and one-line errors for every user mistake."""

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from ganforge.cli import main

TINY = ["--data", "digits", "--resolution", "16", "--latent-dim", "8", "--g-width", "8", "--d-width", "8",
        "--batch-size", "8", "--steps", "3", "--log-every", "1", "--sample-every", "2", "--checkpoint-every", "2",
        "--sample-count", "4", "--precision", "fp32", "--quiet"]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("cli") / "run"
    assert main(["train", *TINY, "--out", str(run)]) == 0
    return run


def test_train_then_resume_further(trained_run, capsys):
    assert main(["train", "--resume", str(trained_run), "--steps", "4", "--quiet"]) == 0
    assert "stopped at step 4" in capsys.readouterr().out


def test_sample_grid_folder_and_array(trained_run, tmp_path):
    assert main(["sample", str(trained_run), "-n", "5", "-o", str(tmp_path / "grid.png")]) == 0
    assert Image.open(tmp_path / "grid.png").size[0] > 16 * 2
    assert main(["sample", str(trained_run), "-n", "3", "-o", str(tmp_path / "many"), "--seed", "1"]) == 0
    assert sorted(p.name for p in (tmp_path / "many").iterdir()) == ["0.png", "1.png", "2.png"]
    checkpoint = trained_run / "checkpoints" / "latest.pt"
    assert main(["sample", str(checkpoint), "-n", "6", "-o", str(tmp_path / "s.npy")]) == 0
    array = np.load(tmp_path / "s.npy")
    assert array.shape == (6, 16, 16, 1) and array.dtype == np.uint8


def test_sampling_is_reproducible_by_seed(trained_run, tmp_path):
    for name, seed in (("a", "0"), ("b", "0"), ("c", "1")):
        main(["sample", str(trained_run), "-n", "4", "-o", str(tmp_path / f"{name}.npy"), "--seed", seed])
    a, b, c = (np.load(tmp_path / f"{n}.npy") for n in "abc")
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_interpolate_writes_an_animation(trained_run, tmp_path):
    out = tmp_path / "walk.gif"
    argv = ["interpolate", str(trained_run), "-o", str(out), "--walks", "3", "--points", "2", "--frames", "3"]
    assert main(argv) == 0
    gif = Image.open(out)
    assert gif.n_frames == 6


@pytest.mark.parametrize("argv,message", [
    (["train", "--data", "/no/such/folder", "--out", "{tmp}/r"], "no such folder"),
    (["train", "--data", "digitz", "--out", "{tmp}/r"], "not a built-in data set"),
    (["train", "--resolution", "48", "--out", "{tmp}/r"], "power of two from 16 to 256"),
    (["train", "--lr-g", "-1", "--out", "{tmp}/r"], "--lr-g must be a number greater than 0 and less than 1"),
    (["train", "--batch-size", "0", "--out", "{tmp}/r"], "--batch-size must be a whole number from 1 to 65,536"),
    (["train", "--model", "dcgann", "--out", "{tmp}/r"], "unknown model 'dcgann'"),
    (["train", "--data", "digits"], "--out DIR is required"),
    (["train", "--resume", "{tmp}", "--lr-g", "0.1"], "only the run's length (--steps, --epochs, --max-minutes)"),
    (["sample", "{tmp}/nothing", "-o", "{tmp}/x.png"], "no such run directory or checkpoint file"),
    (["sample", "{tmp}/fake.pt", "-o", "{tmp}/x.png"], "not a readable checkpoint"),
    (["sample", "{tmp}", "-o", "{tmp}/x.png"], "no checkpoint found"),
    (["interpolate", "{tmp}", "-o", "{tmp}/x.mp4"], "writes an animated .gif"),
])
def test_user_mistakes_are_one_line_errors(tmp_path, capsys, argv, message):
    (tmp_path / "fake.pt").write_text("definitely not a checkpoint")
    code = main([a.replace("{tmp}", str(tmp_path)) for a in argv])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert message in err
    assert len(err.splitlines()) == 1 and "Traceback" not in err


def test_installed_command_exits_nonzero_without_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "ganforge", "sample", str(tmp_path / "missing"), "-o", "x.png"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("ganforge sample: error:") and "Traceback" not in proc.stderr


def _subcommands():
    from ganforge.cli import build_parser

    parser = build_parser()
    return parser, next(a for a in parser._actions if a.dest == "command").choices


@pytest.mark.parametrize("command", sorted(_subcommands()[1]))
def test_every_command_suggests_the_flag_meant(command, capsys):
    """A misspelt flag (two letters swapped) is named with the closest real one, on one line, exit 2, even where
    required arguments are missing too."""
    parser, commands = _subcommands()
    words, sub = [command], commands[command]
    if command == "bench":
        words, sub = [command, "modes"], next(a for a in sub._actions if a.dest == "bench").choices["modes"]
    flag = max((s for a in sub._actions for s in a.option_strings if s.startswith("--")), key=len)
    typo = flag[:3] + flag[4] + flag[3] + flag[5:]
    with pytest.raises(SystemExit) as exit_:
        parser.parse_args([*words, typo, "1"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert err == f"{sub.prog}: error: unknown flag {typo}; did you mean {flag}?\n"


def test_unknown_flag_from_the_installed_command(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "ganforge", "train", "--stpes", "10", "--out", str(tmp_path / "r")],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and not (tmp_path / "r").exists()
    assert proc.stderr == "ganforge train: error: unknown flag --stpes; did you mean --steps?\n"


def test_a_flag_nothing_resembles_and_a_stray_argument(capsys):
    assert_one_line_exit(["train", "--zzzzzz"],
                         "ganforge train: error: unknown flag --zzzzzz (see ganforge train --help)", capsys)
    assert_one_line_exit(["sample", "run", "extra", "-o", "x.png"], "unrecognized arguments: extra", capsys)


def assert_one_line_exit(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and message in err and len(err.splitlines()) == 1


def test_top_level_help_speaks_to_users(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "your own folder of images" in out and "Start here:" in out
    assert "ganforge train --data digits --out runs/digits --preset recommended --steps 4000" in out
    assert "ganforge COMMAND --help" in out and "library functions" not in out


@pytest.mark.parametrize("command", sorted(_subcommands()[1]))
def test_every_command_has_help_and_every_flag_a_help_line(command, capsys):
    """`ganforge COMMAND --help` works, and no flag is left without its help line."""
    parser, commands = _subcommands()
    with pytest.raises(SystemExit) as exit_:
        parser.parse_args([command, "--help"])
    assert exit_.value.code == 0 and "usage:" in capsys.readouterr().out
    undocumented = [a.option_strings for a in commands[command]._actions
                    if a.option_strings and not a.help and a.dest != "help"]
    assert not undocumented, f"{command}: flags without help: {undocumented}"
