"""`--preset auto` for image folders: what it picks for the data in hand (config/auto.py), and that it says so."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganforge.config import resolve_config
from ganforge.config.auto import AUTO_EMA

from helpers import run_cli


def _folder(root: Path, count: int = 6, classes: tuple[str, ...] = ()) -> Path:
    """`count` small colour PNGs, flat or spread over class sub-folders."""
    rng = np.random.default_rng(0)
    for i in range(count):
        folder = root / classes[i % len(classes)] if classes else root
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    return root


def _resolve(data: Path, images: int | None = None, **settings) -> tuple[object, list[str]]:
    lines: list[str] = []
    config = resolve_config({"data": str(data), **settings}, images=images, notify=lines.append)
    return config, lines


def test_a_small_folder_at_64_px_gets_fastgan_with_an_ema(tmp_path):
    config, lines = _resolve(_folder(tmp_path / "pics"))
    assert (config.model, config.preset, config.resolution, config.ema_beta) == ("fastgan", "auto", 64, AUTO_EMA)
    assert config.loss == "rahinge" and config.augment == "off"  # FastGAN's D augments its own inputs
    assert lines == [config.auto_line] and lines[0].startswith("auto: chose fastgan")
    assert "6 images at 64 px, 3 channels" in lines[0]


def test_below_64_px_a_dcgan_with_the_measured_image_recipe_and_ada_for_small_data(tmp_path):
    config, lines = _resolve(_folder(tmp_path / "pics"), resolution=32)
    assert config.model == "dcgan" and (config.loss, config.spectral_norm, config.d_batchnorm) == ("hinge", True, False)
    assert (config.lr_g, config.beta1, config.ema_beta, config.augment) == (4e-4, 0.0, AUTO_EMA, "ada")
    assert "ADA augmentation" in lines[0] and "below 64 px" in lines[0]
    many, lines = _resolve(tmp_path / "pics", resolution=32, images=20_000)  # a large set: no augmentation
    assert many.augment == "off" and "ADA" not in lines[0] and "20,000 images" in lines[0]


def test_grey_and_128_px_folders(tmp_path):
    grey, lines = _resolve(_folder(tmp_path / "pics"), channels=1)
    assert (grey.model, grey.channels) == ("fastgan", 1) and "1 channel because" not in lines[0]
    assert "64 px, 1 channel," in lines[0]
    big, _ = _resolve(tmp_path / "pics", resolution=128)
    assert big.model == "fastgan" and big.resolution == 128


def test_plain_and_recommended_keep_dcgan_on_a_small_128_px_folder(tmp_path):
    # the textbook recipe and the DCGAN recipe stay what they name; only auto swaps in a model for small data
    plain, said = _resolve(_folder(tmp_path / "pics"), resolution=128, preset="plain")
    assert (plain.model, plain.loss, plain.ema_beta) == ("dcgan", "nonsat", 0.0) and said == []
    recommended, said = _resolve(tmp_path / "pics", resolution=128, preset="recommended")
    assert (recommended.model, recommended.loss, recommended.spectral_norm) == ("dcgan", "hinge", True)
    assert said == []


def test_labels_conditional_runs_get_dcgan_and_unused_class_folders_are_named(tmp_path):
    data = _folder(tmp_path / "pics", count=8, classes=("cats", "dogs"))
    unconditional, lines = _resolve(data)
    assert unconditional.model == "fastgan" and "its 2 class folders are not used (--conditional would)" in lines[0]
    conditional, lines = _resolve(data, conditional=True)
    assert conditional.model == "dcgan" and conditional.conditional and conditional.loss == "hinge"
    assert "conditional (FastGAN has no conditional form)" in lines[0] and "class folders" not in lines[0]


def test_a_time_budget_alone_is_planned_and_a_step_count_is_not(tmp_path):
    data = _folder(tmp_path / "pics")
    short, lines = _resolve(data, max_minutes=2)
    assert "2-minute budget" in lines[0] and short.max_minutes == 2
    long, lines = _resolve(data, max_minutes=120)
    assert "120-minute budget" in lines[0] and long.model == short.model
    _, lines = _resolve(data, max_minutes=2, total_steps=100)  # the steps end it: nothing to plan from the clock
    assert "budget" not in lines[0]


def test_settings_given_win_and_the_built_ins_keep_their_measured_choice(tmp_path):
    data = _folder(tmp_path / "pics")
    config, lines = _resolve(data, loss="nonsat", ema_beta=0.99)
    assert (config.model, config.loss, config.ema_beta) == ("fastgan", "nonsat", 0.99)
    dcgan, lines = _resolve(data, model="dcgan")
    assert dcgan.loss == "hinge" and dcgan.spectral_norm and "given with --model" in lines[0]
    r3gan, _ = _resolve(data, model="r3gan")
    assert r3gan.model == "r3gan" and r3gan.loss == "rpgan"  # its own recipe
    plain, lines = _resolve(data, preset="plain")
    assert plain.model == "dcgan" and plain.loss == "nonsat" and plain.ema_beta == 0 and lines == []
    for builtin, preset in (("digits", "plain"), ("stacked-digits", "recommended"), ("ring", "recommended")):
        assert resolve_config({"data": builtin}).preset == preset
    again = resolve_config(config)  # a resolved config resolves to itself
    assert again == config


@pytest.mark.parametrize("extra", [[], ["--max-minutes", "5", "--steps", "2"]])
def test_the_choice_is_printed_once_and_kept_in_the_run_folder(tmp_path, capsys, extra):
    data = _folder(tmp_path / "pics")
    out = tmp_path / "run"
    code, err = run_cli(["train", "--data", str(data), "--out", str(out), "--resolution", "16", "--g-width", "8",
                         "--d-width", "8", "--batch-size", "4", "--threads", "1", *(extra or ["--steps", "2"])],
                        capsys)
    assert code == 0, err
    said = [line for line in err.splitlines() if line.startswith("auto: chose")]
    assert len(said) == 1 and said[0].startswith("auto: chose dcgan")
    assert (out / "auto.txt").read_text().strip() == said[0]
    plain = tmp_path / "plain"
    code, err = run_cli(["train", "--data", str(data), "--out", str(plain), "--resolution", "16", "--preset", "plain",
                         "--g-width", "8", "--d-width", "8", "--batch-size", "4", "--steps", "1"], capsys)
    assert code == 0 and "auto:" not in err and not (plain / "auto.txt").exists()
