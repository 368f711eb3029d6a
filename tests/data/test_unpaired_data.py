"""Unpaired data: the built-in tasks' hidden ground truth, known partners, the batch stream."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.data.unpaired import UnpairedStream, load_unpaired
from ganforge.errors import GanforgeError


def test_thick_digits_only_add_ink_around_each_stroke():
    data = load_unpaired("thick-digits", 32, 1, split="heldout")
    thin, thick = data.paired()
    assert len(data.partners) == 297 and thin.shape == thick.shape == (297, 32, 32, 1)
    assert (thick >= thin).all()  # a dilation: every stroke pixel stays, at least as bright
    assert thick.float().mean() > 1.3 * thin.float().mean()


def test_mirror_digits_are_each_digit_flipped_left_to_right():
    data = load_unpaired("mirror-digits", 32, 1, split="heldout")
    digit, mirrored = data.paired()
    assert digit.shape == mirrored.shape == (297, 32, 32, 1)
    assert torch.equal(mirrored, digit.flip(2))
    assert (mirrored != digit).any(dim=(1, 2, 3)).float().mean() > 0.9  # few digits are left-right symmetric


def test_circles_and_squares_share_colour_centre_and_background():
    data = load_unpaired("circles2squares", 32, 3, split="heldout")
    circles, squares = (x.float() for x in data.paired())
    assert circles.shape == (200, 32, 32, 3)
    differs = (circles - squares).abs().amax(3) > 8  # the corners of the square, outside the circle
    assert differs.float().mean() < 0.1
    corner = (slice(None), 0, 0)
    assert torch.allclose(circles[corner], squares[corner], atol=1)  # same background


def test_a_built_in_task_keeps_the_asked_share_of_its_pairs():
    none, tenth = (load_unpaired("edges2digits", 16, 1, paired_fraction=f) for f in (0.0, 0.1))
    assert len(none.partners) == 0 and len(tenth.partners) == round(0.1 * len(tenth))
    assert len(tenth.b_images) == len(tenth) == 1500


def test_same_names_and_a_pairs_folder_are_partners(tmp_path):
    rng = np.random.default_rng(0)
    for folder, names in (("A", ["x", "y", "z"]), ("B", ["y", "w"]), ("pairs/A", ["p", "q"]), ("pairs/B", ["p"])):
        (tmp_path / folder).mkdir(parents=True)
        for name in names:
            Image.fromarray(rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)).save(tmp_path / folder / f"{name}.png")
    data = load_unpaired(str(tmp_path), 16, 3, quiet=True)
    assert (len(data), len(data.b_images)) == (5, 3)
    pairs = {(data.names_a[a], data.names_b[b]) for a, b in data.partners.tolist()}
    assert pairs == {("y", "y"), ("pairs/p", "pairs/p")}
    with pytest.raises(GanforgeError, match="--paired-fraction 0.5: for built-in tasks"):
        load_unpaired(str(tmp_path), 16, 3, paired_fraction=0.5)
    stream = UnpairedStream(data, torch.device("cpu"), batch_size=4, seed=0)
    batch, _ = stream.next()
    assert batch.shape == (4, 12, 16, 16)  # A, B, and a known pair (A, B) stacked on channels
    stream.position = 0
    assert torch.equal(stream.next()[0], batch)  # one position replays all three streams
