"""The memorisation check flags copies of training images and not fresh samples of the same distribution."""

import torch

from ganforge.data import load_dataset
from ganforge.images import from_uint8
from ganforge.metrics.memorisation import memorisation_check, save_closest_pairs


def digit_pixels():
    images = from_uint8(load_dataset("digits", 16, 1).images)
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))
    return images[order]


def test_fresh_real_images_score_about_the_quantile_and_copies_score_one():
    pixels = digit_pixels().flatten(1)
    train, held_out = pixels[:1500], pixels[1500:]
    fresh = memorisation_check(train, held_out, quantile=0.05)
    assert 0.01 < fresh.copy_fraction < 0.12  # about 0.05 (measured 0.057): held-out digits are no closer
    noise = torch.randn(200, pixels.shape[1], generator=torch.Generator().manual_seed(1)) * 1e-3
    copies = memorisation_check(train, train[:200] + noise, quantile=0.05)
    assert copies.copy_fraction == 1.0
    gen_idx, train_idx = copies.closest_pairs(4)
    assert torch.equal(train_idx, gen_idx)  # each copy's nearest training image is its original


def test_closest_pairs_picture(tmp_path):
    images = digit_pixels()[:6]
    save_closest_pairs(tmp_path / "pairs.png", images[:3], images[3:])
    from PIL import Image

    with Image.open(tmp_path / "pairs.png") as picture:
        assert picture.size == (3 * 18 + 2, 2 * 18 + 2)  # 3 columns, 2 rows of 16 px with 2 px padding
