"""Paired data: both folder formats, bad pairs reported by name, direction, splits, paired augmentation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.data.batches import BatchStream
from ganforge.data.load import load_pairs
from ganforge.data.paired import load_pair_folder, make_pairs
from ganforge.data.paired_builtin import edge_map, edges2digits, gray2color
from ganforge.errors import GanforgeError


def _image(path: Path, width: int, height: int, value: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((height, width, 3), value, np.uint8)).save(path)


def _side_by_side(path: Path, size: int, a: int, b: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    array = np.zeros((size, 2 * size, 3), np.uint8)
    array[:, :size], array[:, size:] = a, b
    Image.fromarray(array).save(path)


def test_side_by_side_pairs_split_into_a_and_b(tmp_path: Path) -> None:
    _side_by_side(tmp_path / "x.png", 20, 10, 200)
    _side_by_side(tmp_path / "sub" / "y.jpg", 30, 60, 120)
    pairs = load_pair_folder(tmp_path, 16, 3)
    assert pairs.images.shape == (2, 16, 16, 6) and pairs.input_channels == 3
    assert pairs.names == ["sub/y", "x"]
    assert pairs.inputs[1].float().mean() == pytest.approx(10, abs=1)
    assert pairs.targets[1].float().mean() == pytest.approx(200, abs=1)


def test_two_folders_match_by_name_and_report_a_missing_partner(tmp_path: Path) -> None:
    _image(tmp_path / "A" / "one.png", 20, 20, 10)
    _image(tmp_path / "B" / "one.jpg", 20, 20, 200)  # another extension is fine
    _image(tmp_path / "A" / "two.png", 20, 20, 30)
    _image(tmp_path / "B" / "two.png", 20, 20, 220)
    _image(tmp_path / "A" / "lonely.png", 20, 20, 30)
    warnings: list[str] = []
    pairs = load_pair_folder(tmp_path, 16, 1, warn=warnings.append)
    assert pairs.names == ["one", "two"] and pairs.images.shape == (2, 16, 16, 2)
    assert pairs.inputs[0].float().mean() == pytest.approx(10, abs=1)
    assert pairs.targets[0].float().mean() == pytest.approx(200, abs=2)
    assert any("lonely.png" in w and "no partner" in w for w in warnings)


def test_mismatched_sizes_are_skipped_by_name(tmp_path: Path) -> None:
    _image(tmp_path / "A" / "good.png", 20, 20, 10)
    _image(tmp_path / "B" / "good.png", 20, 20, 200)
    _image(tmp_path / "A" / "bent.png", 20, 20, 10)
    _image(tmp_path / "B" / "bent.png", 24, 20, 200)
    warnings: list[str] = []
    pairs = load_pair_folder(tmp_path, 16, 3, warn=warnings.append)
    assert pairs.names == ["good"]
    assert any("bent" in w and "20x20" in w and "24x20" in w for w in warnings)


def test_odd_width_side_by_side_and_no_usable_pair_are_reported(tmp_path: Path) -> None:
    _image(tmp_path / "odd.png", 21, 10, 10)
    warnings: list[str] = []
    with pytest.raises(GanforgeError, match="none of its 1 image files gave a usable pair"):
        load_pair_folder(tmp_path, 16, 3, warn=warnings.append)
    assert any("odd.png" in w and "odd" in w for w in warnings)


def test_direction_and_split_folders(tmp_path: Path) -> None:
    _side_by_side(tmp_path / "train" / "a.png", 16, 10, 200)
    _side_by_side(tmp_path / "val" / "b.png", 16, 50, 100)
    forward = load_pairs(str(tmp_path), 16, 3, "AtoB")
    backward = load_pairs(str(tmp_path), 16, 3, "BtoA")
    assert forward.names == ["a"] and torch.equal(forward.inputs, backward.targets)
    heldout = load_pairs(str(tmp_path), 16, 3, split="heldout")
    assert heldout.names == ["b"]
    assert load_pairs(str(tmp_path / "train"), 16, 3, split="heldout") is None  # no split sub-folders
    with pytest.raises(GanforgeError, match="--direction must be AtoB or BtoA"):
        load_pairs(str(tmp_path), 16, 3, "AB")
    with pytest.raises(GanforgeError, match="no such folder; pix2pix --data takes .* or a built-in task"):
        load_pairs("digits", 16, 3)


def test_crop_and_flip_move_both_sides_together() -> None:
    g = torch.Generator().manual_seed(0)
    a = torch.randint(0, 256, (1, 20, 20, 1), generator=g, dtype=torch.uint8)
    pairs = make_pairs(a, a.clone(), ["only"])  # B == A: any misalignment between the sides shows
    stream = BatchStream(pairs.images, batch_size=8, seed=3, flip=True, crop=16)
    batch, _ = stream.next()  # the same image eight times, each cropped (and maybe flipped) on its own
    assert batch.shape == (8, 2, 16, 16)
    assert torch.equal(batch[:, :1], batch[:, 1:])
    assert len({tuple(image.flatten().tolist()) for image in batch}) > 1  # the windows really differ


def test_edge_map_finds_the_outline_of_a_square() -> None:
    grey = torch.zeros(1, 1, 24, 24)
    grey[..., 8:16, 8:16] = 1
    edges = edge_map(grey)[0, ..., 0] > 0
    assert edges[12, 7:9].any() and edges[7:9, 12].any()  # left and top sides
    assert not edges[12, 12] and not edges[2, 2]  # neither the flat inside nor the flat outside


def test_edges2digits_heldout_digits_are_not_training_digits() -> None:
    train, heldout = edges2digits(16, 1, "train"), edges2digits(16, 1, "heldout")
    assert len(train) + len(heldout) == 1797 and not set(train.names) & set(heldout.names)
    assert train.input_channels == 1 and train.images.shape[1:] == (16, 16, 2)


def test_gray2color_inputs_are_the_targets_in_grey() -> None:
    pairs = gray2color(16, 3, "heldout")
    assert pairs.images.shape == (200, 16, 16, 4) and pairs.input_channels == 1
    grey = (pairs.targets.float() @ torch.tensor([0.299, 0.587, 0.114])).round()
    assert (grey - pairs.inputs[..., 0].float()).abs().max() <= 1


def test_photo_tasks_say_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "skimage", None)
    with pytest.raises(GanforgeError, match=r"pip install \"ganforge\[photos\]\""):
        load_pairs("edges2photo", 16, 3)
