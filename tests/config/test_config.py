"""The config package: sections, what each model's spec refuses, and the flags --help shows."""

from __future__ import annotations

import dataclasses

import pytest

from ganforge.cli import build_parser, main
from ganforge.config import SECTIONS, TrainConfig, resolve_config
from ganforge.config.train_config import flat_settings
from ganforge.errors import GanforgeError
from ganforge.models import model_specs, pickable_models


def test_every_field_has_a_section_and_a_help_line():
    for field in dataclasses.fields(TrainConfig):
        assert field.metadata["section"] in SECTIONS, field.name
        assert len(field.metadata["help"]) > 10, field.name


@pytest.mark.parametrize(("settings", "message"), [
    (dict(model="msg", spectral_norm=True), "--spectral-norm: not available for --model msg"),
    (dict(model="fastgan", augment="ada"), "--augment ada: not available for --model fastgan"),
    (dict(model="progressive", loss="wgan-gp"), "--loss wgan-gp: not available for --model progressive"),
    (dict(model="pix2pix", data="edges2digits", pack=2), "--pack: not available for --model pix2pix"),
    (dict(conditional=True, pack=2), "--pack: not available for --model dcgan --conditional"),
    (dict(model="pix2pix", data="edges2digits", eval_every=10),
     "^--eval-every scores noise-to-image generators; --model pix2pix runs are scored on"),
    (dict(data="ring", eval_every=10), "--model mlp runs are scored by `ganforge bench modes`"),
    (dict(l1_weight=10.0), "--l1-weight: a setting of --model pix2pix, not of --model dcgan"),
    (dict(model="msg", stage_images=100), "--stage-images: a setting of --model progressive, not of --model msg"),
    (dict(model="dcgan", loss="rahinge"), "--loss rahinge works with --model fastgan, msg, progressive"),
    (dict(model="pix2pix", data="edges2digits", conditional=True), "--conditional is for noise-to-image models"),
    (dict(data="ring", conditional=True), "--conditional needs class labels"),
    (dict(model="conditional-dcgan"), "use --model dcgan --conditional"),
    (dict(data="ring", model="dcgan"), "2D point data: it needs --model mlp"),
    (dict(model="mlp"), "--model mlp is for 2D point data"),
    (dict(aspect="2:1", conditional=True),
     "non-square images work with --model cyclegan, dcgan, fastgan, mlp-gan, msg, progressive"),
    (dict(model="pix2pix", data="edges2digits", l1_weight=0.0, adversarial_weight=0.0), "both 0"),
])
def test_the_model_spec_refuses_what_cannot_work(settings, message):
    with pytest.raises(GanforgeError, match=message):
        resolve_config({"data": "digits", **settings})


def test_a_refused_preset_value_is_left_out_rather_than_refused():
    # the recommended stacked-digits recipe packs pairs; msg cannot, so it trains without
    config = resolve_config({"data": "stacked-digits", "model": "msg"})
    assert config.pack == 1 and config.loss == "rahinge"


def test_sections_round_trip_and_misplaced_settings_are_named():
    config = resolve_config({"data": "digits", "latent_classes": 10, "eval_every": 100})
    saved = config.to_dict()
    assert list(saved) == ["data", "model", "optimisation", "stabilisers", "schedule", "execution", "evaluation",
                           "infogan"]
    assert TrainConfig.from_saved(saved) == config
    with pytest.raises(GanforgeError, match="another section"):
        flat_settings({"data": {"lr_g": 1e-3}})


def _train_help() -> str:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return sub.choices["train"].format_help()


def test_help_groups_flags_by_section_and_shows_choices():
    text = _train_help()
    for title in SECTIONS.values():
        assert title in text
    assert "{" + ",".join(pickable_models()) + "}" in text
    assert "conditional-dcgan" not in text
    for shown in ("{16,32,64,128,256}", "{1,3,4}", "{auto,plain,recommended}", "{auto,off,ada,fixed}",
                  "{fixed,ttur,skip,adaptive}", "{transpose,nearest,subpixel}", "{auto,fp32,bf16,fp16}", "rahinge",
                  "--d-arch {dcgan,pool,resnet,vgg,inception}", "--g-arch {dcgan,resnet}"):
        assert shown in text, shown


def test_every_train_flag_has_a_help_line():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for action in sub.choices["train"]._actions:
        assert action.help, action.option_strings


def test_a_bad_model_lists_only_the_models_a_user_can_pick(tmp_path, capsys):
    assert main(["train", "--model", "dcgann", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "Did you mean 'dcgan'?" in err and "conditional-dcgan" not in err
    for spec in model_specs():
        assert (spec.name in err) == spec.pickable
    assert not (tmp_path / "r").exists()
