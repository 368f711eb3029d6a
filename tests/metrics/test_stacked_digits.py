"""Stacked digits: the data set's construction and the mode / KL scoring (with a stand-in classifier)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from ganforge.cli import main
from ganforge.config.train_config import saved_settings
from ganforge.data.builtin import digits, stacked_digits
from ganforge.errors import GanforgeError
from ganforge.metrics.modes import kl_to_uniform, read_stacked_modes, score_stacked_modes


def test_stacked_digits_puts_three_digits_in_the_channels():
    data = stacked_digits(resolution=16, count=300, seed=0)
    assert data.images.shape == (300, 16, 16, 3) and data.images.dtype == torch.uint8
    assert data.num_classes == 1000 and int(data.labels.min()) >= 0 and int(data.labels.max()) <= 999
    source = digits(resolution=16, channels=1)
    # each channel of sample 0 is one of the source digits, whose label is that digit of the mode
    for channel, digit in enumerate((data.labels[0] // 100, data.labels[0] // 10 % 10, data.labels[0] % 10)):
        plane = data.images[0, :, :, channel]
        matches = (source.images[..., 0] == plane).flatten(1).all(1)
        assert matches.any() and (source.labels[matches] == digit).all()
    with pytest.raises(GanforgeError, match="3-channel"):
        stacked_digits(channels=1, count=10)


def test_kl_to_uniform():
    assert kl_to_uniform(torch.full((1000,), 7)) == pytest.approx(0.0, abs=1e-12)
    one_mode = torch.zeros(1000, dtype=torch.long)
    one_mode[3] = 50
    assert kl_to_uniform(one_mode) == pytest.approx(math.log(1000))
    half = torch.zeros(1000, dtype=torch.long)
    half[:500] = 2
    assert kl_to_uniform(half) == pytest.approx(math.log(2))


class _BrightnessClassifier(nn.Module):
    """Stand-in for the digit classifier: reads a channel's mean brightness as a digit; -1 (black) is "not a digit"."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, 1, H, W) -> (N, 11)
        level = ((x.mean((1, 2, 3)) + 1) * 5).round().long().clamp(0, 10)  # [-1, 1] -> 0..10
        digit = torch.where(level == 0, torch.full_like(level, 10), level - 1)
        return nn.functional.one_hot(digit, 11).float()


def _image(r: int, g: int, b: int) -> torch.Tensor:
    levels = torch.tensor([r, g, b], dtype=torch.float32)
    return ((levels + 1) / 5 - 1).view(3, 1, 1).expand(3, 4, 4)


def test_stacked_modes_are_read_per_channel_and_unreadable_samples_count_for_none():
    images = torch.stack([_image(1, 2, 3), _image(1, 2, 3), _image(9, 0, 4), _image(8, 8, 8)])
    images[3, 1] = -1.0  # a black green channel: "not a digit"
    modes = read_stacked_modes(_BrightnessClassifier(), images, batch_size=3)
    assert modes.tolist() == [123, 123, 904, -1]
    score = score_stacked_modes(modes)
    assert (score.modes_captured, score.read_fraction) == (2, 0.75)
    assert score.kl_to_uniform == pytest.approx((2 / 3) * math.log(2 / 3 * 1000) + (1 / 3) * math.log(1 / 3 * 1000))


def test_the_default_stacked_digits_recipe_trains_and_samples_three_channel_images(tmp_path):
    """`ganforge train --data stacked-digits` (recommended: packed, spectrally normalised D without batch norm)."""
    run = tmp_path / "sd"
    assert main(["train", "--data", "stacked-digits", "--steps", "3", "--batch-size", "8", "--out", str(run),
                 "--quiet"]) == 0
    config = saved_settings((run / "config.json").read_text())
    assert (config["preset"], config["pack"], config["d_batchnorm"], config["loss"]) == ("recommended", 2, False,
                                                                                          "hinge")
    assert main(["sample", str(run), "-n", "6", "-o", str(tmp_path / "s.npy")]) == 0
    samples = np.load(tmp_path / "s.npy")
    assert samples.shape == (6, 16, 16, 3) and samples.dtype == np.uint8
