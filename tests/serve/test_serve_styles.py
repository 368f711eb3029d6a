"""The page's style tools for a style-based run: the Style mixing tab's grid and the walk in w space."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from ganforge.errors import GanforgeError
from ganforge.serve.mixing import makes_styles, mixing_picture
from ganforge.serve.runs import interpolation_gif, open_runs, sample_grid


@pytest.fixture(scope="module")
def served(style_trained_run, trained_run):
    return open_runs([style_trained_run, trained_run])


def test_only_style_based_runs_get_the_mixing_tab(served):
    assert {name: makes_styles(run) for name, run in served.items()} == {"style": True, "tiny": False}


def test_mixing_picture_has_a_source_row_and_column(served):
    picture = mixing_picture(served["style"], seed=3, rows=2, cols=3, cutoff=0, truncation=1.0)
    assert picture.shape == (3 * 18 + 2, 4 * 18 + 2, 1)
    assert np.array_equal(picture, mixing_picture(served["style"], 3, 2, 3, 0, 1.0))  # the same inputs, same grid
    with pytest.raises(GanforgeError, match="rows must be a whole number"):
        mixing_picture(served["style"], 0, 9, 3, 0, 1.0)
    with pytest.raises(GanforgeError, match="style-based generator"):
        mixing_picture(served["tiny"], 0, 2, 2, 0, 1.0)


def test_generate_and_animate_truncate_around_the_mean_w(served, tmp_path):
    grid, _ = sample_grid(served["style"], seed=0, count=4, truncation=0.0)
    tiles = [grid[2 + 18 * r:18 + 18 * r, 2 + 18 * c:18 + 18 * c] for r in range(2) for c in range(2)]  # 2x2
    assert all(np.array_equal(tiles[0], tile) for tile in tiles)
    gif = interpolation_gif(served["style"], 0, 1, 4, 0.5, True, tmp_path)
    assert Image.open(gif).n_frames == 6  # A -> B -> A
    with pytest.raises(GanforgeError, match="--truncation"):
        interpolation_gif(served["style"], 0, 1, 4, 1.5, True, tmp_path)


def test_the_page_builds_with_a_style_run(served, tmp_path):
    pytest.importorskip("gradio")
    from ganforge.serve.app import build_app

    assert build_app(served, tmp_path) is not None
