"""Loading people's real folders: every format and colour mode, and every kind of broken file."""

import io
import os

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.data import folder as folder_module
from ganforge.data import load_dataset
from ganforge.data.batches import BatchStream
from ganforge.data.folder import load_image_folder
from ganforge.errors import GanforgeError


def _rgb(w=40, h=30, colour=(200, 30, 30)):
    return Image.new("RGB", (w, h), colour)


@pytest.fixture
def awkward_folder(tmp_path):
    """Valid images in every supported format and mode, plus broken files of every kind."""
    good = tmp_path / "good"
    (good / "nested" / "deeper").mkdir(parents=True)
    _rgb().save(good / "a.png")
    _rgb().save(good / "B.JPG", format="JPEG")
    _rgb().save(good / "c.bmp")
    _rgb().save(good / "nested" / "d.webp")
    _rgb().save(good / "nested" / "e.TIFF")
    frames = [_rgb(colour=(0, 255, 0)), _rgb(colour=(0, 0, 255))]
    frames[0].save(good / "anim.gif", save_all=True, append_images=frames[1:])
    Image.new("L", (20, 20), 128).save(good / "grey.png")
    Image.new("LA", (20, 20), (100, 0)).save(good / "transparent.png")
    Image.new("RGBA", (20, 20), (0, 0, 0, 0)).save(good / "nested" / "deeper" / "rgba.png")
    Image.new("P", (20, 20)).save(good / "palette.png")
    Image.new("CMYK", (20, 20), (0, 255, 255, 0)).save(good / "cmyk.jpg", format="JPEG")
    Image.fromarray(np.full((20, 20), 65535, np.uint16)).save(good / "sixteen.png")
    bad = tmp_path / "good"  # broken files live beside the good ones, as in real folders
    (bad / "empty.png").write_bytes(b"")
    buf = io.BytesIO()
    _rgb().save(buf, format="PNG")
    (bad / "truncated.png").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    (bad / "notes.jpg").write_text("this is not an image")
    os.symlink(tmp_path / "missing.png", bad / "dangling.png")
    (bad / "readme.txt").write_text("ignored: not an image extension")
    return good


def test_every_valid_format_loads_and_broken_files_are_skipped_with_reasons(awkward_folder):
    warnings = []
    data = load_image_folder(awkward_folder, resolution=16, channels=3, warn=warnings.append)
    assert len(data) == 12
    assert data.images.shape == (12, 16, 16, 3) and data.images.dtype == torch.uint8
    reasons = "\n".join(warnings)
    assert "empty.png: empty file" in reasons
    assert "truncated.png: unreadable" in reasons
    assert "notes.jpg: not an image" in reasons
    assert "dangling.png: dangling symbolic link" in reasons
    assert "skipped 4 of 16 files" in warnings[-1]


def test_colour_modes_are_converted_faithfully(awkward_folder):
    data = load_image_folder(awkward_folder, resolution=16, channels=1, warn=lambda m: None)
    assert data.images.shape[-1] == 1
    names = [p.name for p in folder_module.find_images(awkward_folder)]  # the order images are loaded in
    usable = [n for n in names if n not in {"empty.png", "truncated.png", "notes.jpg", "dangling.png"}]
    by_name = dict(zip(usable, data.images))
    assert by_name["sixteen.png"].min() == 255  # 16-bit white stays white instead of being clipped
    assert by_name["transparent.png"].min() == 255  # transparency is composited onto white
    assert by_name["grey.png"].float().mean() == pytest.approx(128, abs=1)


def test_gif_uses_first_frame(tmp_path):
    frames = [_rgb(colour=(0, 255, 0)), _rgb(colour=(0, 0, 255))]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    pixel = load_image_folder(tmp_path, 16, 3).images[0, 8, 8]
    assert pixel[1] > 200 and pixel[2] < 50


def test_exif_orientation_is_honoured(tmp_path):
    image = Image.new("RGB", (40, 20), (0, 0, 0))
    image.paste((255, 255, 255), (0, 0, 20, 20))  # left half white
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    image.save(tmp_path / "rotated.jpg", exif=exif.tobytes(), quality=95)
    loaded = load_image_folder(tmp_path, 16, 1).images[0, :, :, 0].float()
    # displayed upright, the image is 20 wide x 40 tall with the white half on top
    assert loaded[:4].mean() > 200 and loaded[-4:].mean() < 50


def test_decompression_bombs_are_refused(tmp_path, monkeypatch):
    _rgb(100, 100).save(tmp_path / "big.png")
    _rgb(10, 10).save(tmp_path / "small.png")
    monkeypatch.setattr(folder_module, "MAX_PIXELS", 5000)
    warnings = []
    data = load_image_folder(tmp_path, 16, 3, warn=warnings.append)
    assert len(data) == 1
    assert "big.png: too large" in warnings[0]


def test_empty_folder_fails_at_once(tmp_path):
    (tmp_path / "notes.txt").write_text("no images here")
    with pytest.raises(GanforgeError, match="no image files found"):
        load_dataset(str(tmp_path), 32, 3)


def test_folder_of_only_broken_files_fails_with_one_line(tmp_path):
    (tmp_path / "a.png").write_bytes(b"garbage")
    with pytest.raises(GanforgeError, match="none of the 1 image files could be read"):
        load_image_folder(tmp_path, 32, 3, warn=lambda m: None)


def test_labels_come_from_first_level_subfolders(tmp_path):
    for name, colour in (("cats", (255, 0, 0)), ("dogs", (0, 0, 255))):
        (tmp_path / name / "sub").mkdir(parents=True)
        _rgb(colour=colour).save(tmp_path / name / "1.png")
        _rgb(colour=colour).save(tmp_path / name / "sub" / "2.png")
    data = load_image_folder(tmp_path, 16, 3)
    assert data.class_names == ["cats", "dogs"]
    assert data.labels.tolist() == [0, 0, 1, 1]


@pytest.mark.parametrize("source,message", [("no/such/folder", "no such folder"), ("digitz", "not a built-in")])
def test_unknown_sources_are_one_line_errors(source, message):
    with pytest.raises(GanforgeError, match=message):
        load_dataset(source, 32, 1)


@pytest.mark.parametrize("resolution", [8, 48, 512])
def test_bad_resolution_is_refused(resolution):
    with pytest.raises(GanforgeError, match="power of two from 16 to 256"):
        load_dataset("digits", resolution, 1)


def test_builtin_digits_are_bright_on_dark_with_labels():
    data = load_dataset("digits", 32, 1)
    assert data.images.shape == (1797, 32, 32, 1)
    assert data.labels.unique().tolist() == list(range(10))
    corners = data.images[:, :2, :2].float().mean()
    centre = data.images[:, 12:20, 12:20].float().mean()
    assert corners < 10 < 60 < centre


def test_builtin_shapes_any_resolution_with_labels():
    from ganforge.data.builtin import shapes

    data = shapes(resolution=64, channels=3, count=100)
    assert data.images.shape[1:] == (64, 64, 3) and data.num_classes == 5
    assert data.images.float().std() > 30  # varied, not blank


def test_batch_stream_is_deterministic_and_resumable():
    images = torch.arange(10, dtype=torch.uint8).view(10, 1, 1, 1).expand(10, 2, 2, 1).contiguous()
    a = BatchStream(images, batch_size=4, seed=3)
    first = [a.next_indices() for _ in range(6)]
    b = BatchStream(images, batch_size=4, seed=3, position=8)
    assert all(torch.equal(x, y) for x, y in zip(first[2:], [b.next_indices() for _ in range(4)]))
    epoch0 = torch.cat(first)[:10]
    assert sorted(epoch0.tolist()) == list(range(10))  # each epoch visits every image once


def test_batch_larger_than_dataset_wraps_around():
    images = torch.zeros(3, 2, 2, 1, dtype=torch.uint8)
    batch, labels = BatchStream(images, batch_size=8, seed=0).next()
    assert batch.shape == (8, 1, 2, 2) and labels is None
