"""Recipe presets: which values a run gets for the settings you leave out."""

from __future__ import annotations

import pytest

from ganforge.config import TrainConfig
from ganforge.config.presets import PRESETS, make_config
from ganforge.errors import GanforgeError


def test_auto_picks_recommended_for_points_and_stacked_digits_plain_for_images():
    assert make_config({"data": "ring"}).preset == "recommended"
    assert make_config({"data": "my/points.npy"}).model == "mlp"
    assert make_config({"data": "stacked-digits"}).preset == "recommended"
    assert make_config({"data": "ring"}).lr_decay_start == 0.5  # 2D: rates fall over the second half of the run
    assert make_config({"data": "grid"}).r1_gamma == 0.1  # 2D: a light R1 penalty keeps every grid mode
    assert make_config({"data": "grid", "preset": "plain"}).r1_gamma == 0
    assert make_config({"data": "ring", "preset": "plain"}).lr_decay_start is None
    images = make_config({"data": "digits"})
    assert images.preset == "plain" and images.lr_g == TrainConfig().lr_g and images.model == "dcgan"


def test_flags_beat_config_file_beat_preset():
    recommended = PRESETS["points"]["recommended"]
    config = make_config({"lr_g": 3e-4}, base={"data": "grid", "lr_g": 5e-5, "batch_size": 64})
    assert (config.lr_g, config.batch_size, config.lr_d) == (3e-4, 64, recommended["lr_d"])
    assert make_config({"data": "grid", "preset": "plain"}).ema_beta == PRESETS["points"]["plain"].get("ema_beta", 0)


def test_ttur_gets_two_time_scale_rates_unless_given():
    config = make_config({"data": "digits", "balance": "ttur"}).validate()
    assert config.lr_d == 4 * config.lr_g
    with pytest.raises(GanforgeError, match="ttur needs different"):
        make_config({"data": "digits", "balance": "ttur", "lr_d": 1e-4, "lr_g": 1e-4}).validate()


def test_bad_preset_and_stabiliser_values_name_their_flag():
    with pytest.raises(GanforgeError, match="--preset"):
        make_config({"data": "digits", "preset": "best"})
    for values, flag in [({"pack": 3}, "--batch-size 64 must be a multiple of --pack 3"),
                         ({"label_smoothing": 0.1, "loss": "wgan-gp"}, "--label-smoothing"),
                         ({"balance": "skipping"}, "--balance"), ({"augment": "yes"}, "--augment"),
                         ({"d_steps": 2, "balance": "skip"}, "--d-steps"), ({"r1_every": 0}, "--r1-every")]:
        with pytest.raises(GanforgeError, match=flag):
            make_config({"data": "digits", **values}).validate()


def test_recommended_digits_is_an_infogan_with_ten_categories_unless_conditional_or_another_model():
    digits = make_config({"data": "digits", "preset": "recommended"}).validate()
    assert digits.latent_classes == 40 and (digits.beta1, digits.lr_g) == (0.0, 4e-4) and digits.loss == "hinge"
    conditional = make_config({"data": "digits", "preset": "recommended", "conditional": True}).validate()
    assert conditional.latent_classes == 0 and conditional.loss == "hinge" and conditional.beta1 == 0.5
    other_model = make_config({"data": "digits", "preset": "recommended", "model": "msg"})
    assert other_model.latent_classes == 0 and other_model.loss == TrainConfig().loss
    assert make_config({"data": "digits"}).latent_classes == 0  # plain stays the textbook DCGAN
    assert make_config({"data": "shapes", "preset": "recommended"}).latent_classes == 0
