"""Recipe presets: which values a run gets for the settings you leave out (config/resolver.py applies them)."""

from __future__ import annotations

import pytest

from ganforge.config import TrainConfig, resolve_config
from ganforge.config.presets import PRESETS
from ganforge.errors import GanforgeError


def test_auto_picks_recommended_for_points_and_stacked_digits_plain_for_images():
    assert resolve_config({"data": "ring"}).preset == "recommended"
    assert resolve_config({"data": "ring"}).model == "mlp"
    assert resolve_config({"data": "stacked-digits"}).preset == "recommended"
    assert resolve_config({"data": "ring"}).lr_decay_start == 0.5  # 2D: rates fall over the second half of the run
    assert resolve_config({"data": "grid"}).r1_gamma == 0.1  # 2D: a light R1 penalty keeps every grid mode
    assert resolve_config({"data": "grid", "preset": "plain"}).r1_gamma == 0
    assert resolve_config({"data": "ring", "preset": "plain"}).lr_decay_start is None
    images = resolve_config({"data": "digits"})
    assert images.preset == "plain" and images.lr_g == TrainConfig().lr_g and images.model == "dcgan"


def test_flags_beat_config_file_beat_preset():
    recommended = PRESETS["points"]["recommended"]
    config = resolve_config({"lr_g": 3e-4}, base={"data": "grid", "lr_g": 5e-5, "batch_size": 64})
    assert (config.lr_g, config.batch_size, config.lr_d) == (3e-4, 64, recommended["lr_d"])
    assert resolve_config({"data": "grid", "preset": "plain"}).ema_beta == PRESETS["points"]["plain"].get("ema_beta", 0)


def test_a_saved_config_in_sections_is_a_config_file_too():
    saved = resolve_config({"data": "grid", "batch_size": 64}).to_dict()
    assert "optimisation" in saved and resolve_config({"seed": 3}, base=saved).batch_size == 64
    with pytest.raises(GanforgeError, match="unknown setting"):
        resolve_config({}, base={"optimisation": {"lr_gen": 1e-4}})


def test_ttur_gets_two_time_scale_rates_unless_given():
    config = resolve_config({"data": "digits", "balance": "ttur"})
    assert config.lr_d == 4 * config.lr_g
    with pytest.raises(GanforgeError, match="ttur needs different"):
        resolve_config({"data": "digits", "balance": "ttur", "lr_d": 1e-4, "lr_g": 1e-4})


def test_bad_preset_and_stabiliser_values_name_their_flag():
    with pytest.raises(GanforgeError, match="--preset"):
        resolve_config({"data": "digits", "preset": "best"})
    for values, flag in [({"pack": 3}, "--batch-size 64 must be a multiple of --pack 3"),
                         ({"label_smoothing": 0.1, "loss": "wgan-gp"}, "--label-smoothing"),
                         ({"balance": "skipping"}, "--balance"), ({"augment": "yes"}, "--augment"),
                         ({"d_steps": 2, "balance": "skip"}, "--d-steps"), ({"r1_every": 0}, "--r1-every")]:
        with pytest.raises(GanforgeError, match=flag):
            resolve_config({"data": "digits", **values})


def test_recommended_digits_is_an_infogan_unless_conditional_or_another_model():
    digits = resolve_config({"data": "digits", "preset": "recommended"})
    assert digits.latent_classes == 40 and (digits.beta1, digits.lr_g) == (0.0, 4e-4) and digits.loss == "hinge"
    conditional = resolve_config({"data": "digits", "preset": "recommended", "conditional": True})
    assert conditional.latent_classes == 0 and conditional.loss == "hinge" and conditional.beta1 == 0.5
    other_model = resolve_config({"data": "digits", "preset": "recommended", "model": "msg"})
    assert other_model.latent_classes == 0 and other_model.loss == "rahinge"  # msg's own loss, not the preset's
    assert other_model.ema_beta == 0.999 and not other_model.spectral_norm  # msg refuses spectral norm: not applied
    assert resolve_config({"data": "digits"}).latent_classes == 0  # plain stays the textbook DCGAN
    assert resolve_config({"data": "shapes", "preset": "recommended"}).latent_classes == 0


def test_a_preset_from_python_changes_the_values_it_names():
    plain = resolve_config({"data": "digits"})
    recommended = resolve_config(TrainConfig(data="digits", preset="recommended"))  # a hand-made config: a request
    assert (recommended.loss, recommended.ema_beta, recommended.latent_classes) == ("hinge", 0.999, 40)
    assert (plain.loss, plain.ema_beta, plain.latent_classes) == ("nonsat", 0.0, 0)


def test_the_model_brings_its_own_optimiser_unless_given():
    msg = resolve_config(TrainConfig(data="digits", model="msg"))
    assert (msg.lr_g, msg.beta1, msg.beta2, msg.loss) == (1e-3, 0.0, 0.99, "rahinge")
    given = resolve_config(TrainConfig(data="digits", model="msg", lr_g=2e-4, beta1=0.5))
    assert (given.lr_g, given.beta1, given.lr_d) == (2e-4, 0.5, 1e-3)  # given values win, even the dcgan defaults


def test_resolving_a_resolved_config_changes_nothing():
    for request in ({"data": "digits", "preset": "recommended", "loss": "nonsat"}, {"data": "ring"},
                    {"data": "digits", "resolution": 128}, {"data": "edges2digits", "model": "pix2pix"}):
        once = resolve_config(request)
        assert resolve_config(once) == once and resolve_config(once.to_dict()) == once
