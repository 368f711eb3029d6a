"""Transparency: --channels 4 trains on RGBA and writes transparent PNGs; otherwise every way a picture enters
ganforge (training folders, the Judge upload, translate inputs, evaluation features) composites it onto white."""

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.cli import main
from ganforge.data.folder import decode_image, load_image_folder
from ganforge.images import composite_on_white, from_uint8, to_channels

from helpers import run_cli

RED_DOT = (200, 30, 30)


def _icon(size: int = 24, shift: int = 0) -> Image.Image:
    """A red disc on a fully transparent background, half-transparent at its rim."""
    yy, xx = np.mgrid[:size, :size]
    r = np.hypot(yy - size / 2 - shift, xx - size / 2)
    rgba = np.zeros((size, size, 4), np.uint8)
    rgba[..., :3] = RED_DOT
    rgba[..., 3] = np.where(r < size / 4, 255, np.where(r < size / 3, 128, 0))
    return Image.fromarray(rgba, "RGBA")


@pytest.fixture
def icons(tmp_path):
    folder = tmp_path / "icons"
    folder.mkdir()
    for i in range(8):
        _icon(shift=i % 3).save(folder / f"icon{i}.png")
    return folder


def test_to_channels_keeps_alpha_for_4_and_composites_onto_white_otherwise():
    icon = _icon()
    kept = np.asarray(to_channels(icon, 4))
    assert kept.shape == (24, 24, 4) and kept[0, 0, 3] == 0 and kept[12, 12, 3] == 255
    rgb = np.asarray(to_channels(icon, 3))
    assert tuple(rgb[0, 0]) == (255, 255, 255)  # transparent -> white paper, not black
    assert tuple(rgb[12, 12]) == RED_DOT
    assert np.asarray(to_channels(icon, 1))[0, 0] == 255
    palette = icon.convert("P")  # a palette with a transparent entry is handled as alpha too
    assert np.asarray(to_channels(palette, 3)).shape == (24, 24, 3)


def test_composite_on_white_on_tensors_matches_the_file_path():
    icon = _icon()
    as_tensor = composite_on_white(from_uint8(np.array(to_channels(icon, 4))[None]))
    as_file = from_uint8(np.array(to_channels(icon, 3))[None])
    assert as_tensor.shape == (1, 3, 24, 24)
    assert (as_tensor - as_file).abs().max() < 2 / 127.5  # rounding to uint8 only


def test_folder_with_alpha_warns_once_and_composites(icons):
    warnings = []
    data = load_image_folder(icons, resolution=16, channels=3, warn=warnings.append)
    assert len(warnings) == 1 and "8 of 8 images" in warnings[0] and "--channels 4" in warnings[0]
    assert data.images.shape == (8, 16, 16, 3) and tuple(data.images[0, 0, 0].tolist()) == (255, 255, 255)
    rgba = load_image_folder(icons, resolution=16, channels=4, warn=warnings.append)
    assert len(warnings) == 1 and rgba.images.shape == (8, 16, 16, 4) and rgba.images[0, 0, 0, 3] == 0


def test_opaque_rgba_files_raise_no_warning(tmp_path):
    folder = tmp_path / "opaque"
    folder.mkdir()
    for i in range(2):
        Image.new("RGBA", (20, 20), (10, 20, 30, 255)).save(folder / f"{i}.png")
    warnings = []
    load_image_folder(folder, resolution=16, channels=3, warn=warnings.append)
    assert warnings == []


def test_channels_4_trains_and_samples_transparent_pngs(icons, tmp_path, capsys):
    run = tmp_path / "run"
    code, err = run_cli(["train", "--data", str(icons), "--channels", "4", "--resolution", "16", "--latent-dim", "8",
                         "--g-width", "8", "--d-width", "8", "--batch-size", "4", "--steps", "2", "--log-every", "1",
                         "--sample-every", "2", "--sample-count", "4", "--precision", "fp32", "--augment", "fixed",
                         "--augment-p", "0.5", "--out", str(run), "--quiet"], capsys)
    assert code == 0, err
    grid = Image.open(sorted((run / "samples").glob("*.png"))[-1])
    assert grid.mode == "RGBA"
    assert main(["sample", str(run), "-n", "3", "-o", str(tmp_path / "each")]) == 0
    one = Image.open(tmp_path / "each" / "0.png")
    assert one.mode == "RGBA" and one.size == (16, 16)
    assert main(["interpolate", str(run), "--frames", "3", "-o", str(tmp_path / "walk.gif")]) == 0
    assert Image.open(tmp_path / "walk.gif").size[0] > 0  # GIF has no partial alpha: frames over white
    assert main(["export", str(run), "-o", str(tmp_path / "g.pt")]) == 0
    exported = torch.jit.load(str(tmp_path / "g.pt"))
    assert exported(torch.randn(2, 8)).shape == (2, 4, 16, 16)


def test_channels_4_is_refused_for_built_in_sets(tmp_path, capsys):
    code, err = run_cli(["train", "--data", "shapes", "--channels", "4", "--steps", "1", "--out",
                         str(tmp_path / "r")], capsys)
    assert code == 2 and "built-in data sets have none" in err


def test_translate_inputs_composite_like_training(tmp_path):
    path = tmp_path / "icon.png"
    _icon().save(path)
    array = decode_image(path, None, 3)  # what translate, pix2pix pairs and training folders read
    assert tuple(array[0, 0]) == (255, 255, 255)


def test_judge_upload_is_composited_like_training(tmp_path, trained_run):
    from ganforge.serve.runs import judge, open_runs
    from ganforge.serve.uploads import read_image_upload

    path = tmp_path / "icon.png"
    _icon(32).save(path)
    upload = read_image_upload(path)
    assert upload.mode == "RGBA"  # kept until the run's channel count decides
    runs = open_runs([trained_run])
    seen, probability = judge(next(iter(runs.values())), np.asarray(upload))
    expected = np.asarray(to_channels(_icon(32), 1).resize((16, 16), Image.Resampling.LANCZOS))
    assert seen[..., 0].tolist() == expected.tolist() and seen[0, 0, 0] == 255
    assert 0 <= probability <= 1


def test_evaluation_features_see_rgba_on_white():
    from ganforge.metrics.features import create_extractor, extract_features

    extractor = create_extractor("random")
    rgba = from_uint8(np.array(to_channels(_icon(), 4))[None])
    on_white = from_uint8(np.array(to_channels(_icon(), 3))[None])
    a = extract_features(extractor, rgba).features
    b = extract_features(extractor, on_white).features
    assert torch.allclose(a, b, atol=1e-2)
