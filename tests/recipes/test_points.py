"""2D point data: built-in mixtures, your own .npy, the published scoring protocol, and a whole run."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ganforge.cli import main
from ganforge.config import TrainConfig
from ganforge.config.train_config import saved_settings
from ganforge.data.points import grid, load_points, ring, ring_modes
from ganforge.errors import GanforgeError
from ganforge.metrics.modes import score_points
from ganforge.training.loop import train


def test_builtin_mixtures_match_their_definitions():
    data = ring(count=4000)
    assert data.points.dtype == torch.float32 and data.points.shape == (4000, 2) and len(data.modes) == 8
    assert data.points.norm(dim=1).sub(1).abs().max() < 0.06  # std 0.01 around the unit circle
    g = grid(count=4000)
    assert sorted(set(g.modes[:, 0].tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0] and g.std == 0.05


def test_real_data_scores_what_a_2d_gaussian_predicts():
    """P(|x - mode| <= 3 std) for a 2D Gaussian is 1 - exp(-9/2) = 98.9%: the ceiling for a perfect G."""
    data = grid(count=2500, seed=1)
    score = score_points(data.points, data.modes, data.std)
    assert score.modes_captured == 25 and score.high_quality == pytest.approx(1 - np.exp(-4.5), abs=0.006)


def test_scoring_on_hand_made_point_sets():
    modes, std = ring_modes(), 0.01
    # 3 points on mode 0 (one just inside 3 std, one just outside), 1 on mode 2, 1 half-way between modes
    points = torch.tensor([[1.0, 0.0], [1.029, 0.0], [1.031, 0.0], [0.0, 1.0], [0.5, 0.5]])
    score = score_points(points, modes, std)
    assert score.modes_captured == 2
    assert score.high_quality == pytest.approx(3 / 5)
    assert score.hq_per_mode[0] == 2 and score.hq_per_mode[2] == 1
    collapsed = score_points(torch.tensor([[0.0, -1.0]]).repeat(100, 1), modes, std)
    assert (collapsed.modes_captured, collapsed.high_quality) == (1, 1.0)


def test_own_npy_points_load_and_bad_ones_are_refused(tmp_path):
    good = tmp_path / "pts.npy"
    np.save(good, np.random.default_rng(0).normal(size=(50, 2)))
    assert load_points(str(good)).points.shape == (50, 2)
    for name, array, message in [("img.npy", np.zeros((4, 8, 8, 3)), r"expected an \(N, 2\) array"),
                                 ("nan.npy", np.array([[0.0, 1.0], [np.nan, 0.0]]), "NaN or infinite"),
                                 ("one.npy", np.zeros((1, 2)), "at least 2 points"),
                                 ("text.npy", np.array([["a", "b"], ["c", "d"]]), "expected an")]:
        np.save(tmp_path / name, array)
        with pytest.raises(GanforgeError, match=message):
            load_points(str(tmp_path / name))
    (tmp_path / "junk.npy").write_bytes(b"not numpy")
    with pytest.raises(GanforgeError, match="not a readable .npy"):
        load_points(str(tmp_path / "junk.npy"))
    with pytest.raises(GanforgeError, match="no such file"):
        load_points(str(tmp_path / "missing.npy"))


def test_2d_run_from_the_cli_writes_plots_gif_and_float_samples(tmp_path, capsys):
    data = tmp_path / "points.npy"
    np.save(data, ring(count=500).points.numpy())
    run = tmp_path / "run"
    assert main(["train", "--data", str(data), "--out", str(run), "--steps", "4", "--sample-every", "2",
                 "--log-every", "2", "--batch-size", "16", "--g-width", "8", "--d-width", "8", "--quiet"]) == 0
    config = saved_settings((run / "config.json").read_text())
    assert (config["preset"], config["model"], config["augment"]) == ("recommended", "mlp", "off")
    assert sorted(p.name for p in (run / "samples").glob("*.png")) == ["0000000.png", "0000002.png", "0000004.png"]
    assert (run / "evolution.gif").stat().st_size > 0
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert "doctor/diversity" in records[-1] and "grad/G" in records[-1]
    out = tmp_path / "pts.npy"
    assert main(["sample", str(run), "-n", "2500", "-o", str(out)]) == 0
    samples = np.load(out)
    assert samples.dtype == np.float32 and samples.shape == (2500, 2)
    assert main(["sample", str(run), "-n", "10", "-o", str(tmp_path / "pts.png")]) == 0
    assert main(["sample", str(run), "-n", "10", "-o", str(tmp_path / "pts_dir")]) == 2
    assert "float32 (N, 2)" in capsys.readouterr().err
    assert main(["interpolate", str(run), "-o", str(tmp_path / "walk.gif")]) == 2
    assert "no images to interpolate" in capsys.readouterr().err


def test_point_data_needs_the_mlp(tmp_path):
    config = TrainConfig(data="ring", model="dcgan", total_steps=1)
    with pytest.raises(GanforgeError, match="--model mlp"):
        train(config, tmp_path / "run", quiet=True)
