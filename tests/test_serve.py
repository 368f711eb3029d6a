"""The web page's actions as plain functions: bounded inputs, deterministic outputs, clear refusals."""

from __future__ import annotations

import io
import os
import shutil
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from ganforge.errors import GanforgeError
from ganforge.serve.app import check_host
from ganforge.serve.monitor import snapshot
from ganforge.serve.runs import interpolation_gif, judge, open_runs, pick, sample_grid
from ganforge.serve.uploads import read_image_upload


@pytest.fixture(scope="module")
def runs(trained_run):
    return open_runs([trained_run])


def _png_header_only(width: int, height: int) -> bytes:
    """A valid PNG signature and header claiming width x height, with (almost) no pixel data."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + \
        chunk(b"IEND", b"")


def _png(width: int = 64, height: int = 32) -> bytes:
    """Random pixels, so the compressed data is long enough to cut in half."""
    pixels = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(("content", "message"), [
    (b"just some text, not a picture", "not an image"),
    (_png_header_only(100_000, 8), "100000x8 px is outside the accepted size"),
    (_png()[:3000], "damaged or truncated"),
])
def test_bad_uploads_get_a_clear_message(tmp_path, content, message):
    path = tmp_path / "upload.png"
    path.write_bytes(content)
    with pytest.raises(GanforgeError, match=message) as caught:
        read_image_upload(path)
    assert str(caught.value).startswith("upload.png: ")


def test_upload_size_limit_and_a_good_upload(tmp_path):
    path = tmp_path / "ok.png"
    path.write_bytes(_png())
    with pytest.raises(GanforgeError, match="over the 0 MB upload limit"):
        read_image_upload(path, max_bytes=100)
    image = read_image_upload(path)
    assert image.mode == "RGB" and image.size == (64, 32)


def test_open_runs_names_and_refusals(trained_run, tmp_path, runs):
    assert list(open_runs([trained_run, trained_run])) == ["tiny", "tiny-2"]
    with pytest.raises(GanforgeError, match="not a run directory"):
        open_runs([tmp_path])
    with pytest.raises(GanforgeError, match="unknown run '../../etc'"):
        pick(runs, "../../etc")


def test_sample_grid_is_deterministic_and_bounded(runs):
    run = runs["tiny"]
    first, loaded = sample_grid(run, 3, 4, 1.0)
    again, _ = sample_grid(run, 3, 4, 1.0)
    other, _ = sample_grid(run, 4, 4, 1.0)
    assert first.shape == (38, 38, 1) and np.array_equal(first, again) and not np.array_equal(first, other)
    assert loaded.ema and loaded.step == 4
    assert not sample_grid(run, 3, 4, 1.0, use_ema=False)[1].ema
    for seed, count, truncation, message in [(-1, 4, 1, "seed"), (1.5, 4, 1, "seed"), (0, 0, 1, "number of images"),
                                             (0, 65, 1, "number of images"), (0, 4, 1.5, "truncation")]:
        with pytest.raises(GanforgeError, match=message):
            sample_grid(run, seed, count, truncation)


def test_full_truncation_gives_one_image_for_every_seed(runs):
    """Truncation 0 puts every latent at the mean, so all seeds give the same picture."""
    a, _ = sample_grid(runs["tiny"], 1, 1, 0.0)
    b, _ = sample_grid(runs["tiny"], 2, 1, 0.0)
    assert np.array_equal(a, b)


def test_interpolation_goes_from_a_to_b_and_back(runs, tmp_path):
    path = interpolation_gif(runs["tiny"], 5, 6, 4, 1.0, True, tmp_path)
    with Image.open(path) as gif:
        assert gif.n_frames == 4 + 2  # A, 2 between, B, then 2 on the way back
        first = np.asarray(gif.convert("L"))
    single, _ = sample_grid(runs["tiny"], 5, 1, 1.0)
    assert np.abs(first.astype(int) - single[2:-2, 2:-2, 0]).max() <= 2  # GIF palette rounding


def test_judge_scores_an_image_as_d_sees_it(runs):
    array, probability = judge(runs["tiny"], np.full((40, 30, 3), 255, np.uint8))
    assert array.shape == (16, 16, 1) and 0 < probability < 1
    assert judge(runs["tiny"], np.full((40, 30, 3), 255, np.uint8))[1] == probability


def test_networks_reload_when_the_checkpoint_changes(trained_run, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(trained_run, run_dir)
    run = open_runs([run_dir])["run"]
    assert run.generator().step == 4
    latest = run_dir / "checkpoints" / "latest.pt"
    shutil.copy(run_dir / "checkpoints" / "step-0000002.pt", latest)
    shutil.copy(run_dir / "checkpoints" / "step-0000002.pt.sha256", latest.with_name("latest.pt.sha256"))
    os.utime(latest, ns=(1, 1))  # a different modification time, as a new save would give
    assert run.generator().step == 2


def test_monitor_shows_progress_and_doctor_events(trained_run, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(trained_run, run_dir)
    with open(run_dir / "metrics.jsonl", "a") as handle:
        handle.write('{"step": 4, "event": "collapse", "message": "samples look alike"}\n')
    view = snapshot(open_runs([run_dir])["run"])
    assert "step 4" in view.status and "D(x)" in view.status
    assert view.latest_samples.shape == (38, 38, 3) and view.curves is not None
    assert view.events == [["4", "collapse", "samples look alike"]]


@pytest.mark.parametrize(("host", "warns"), [("127.0.0.1", False), ("127.0.0.2", False), ("::1", False),
                                              ("localhost", False), ("0.0.0.0", True), ("192.168.1.5", True)])
def test_non_loopback_hosts_warn(host, warns):
    assert (check_host(host) is not None) == warns


def test_missing_gradio_is_a_clear_error(trained_run, monkeypatch, capsys):
    import sys

    from ganforge.cli import main

    monkeypatch.setitem(sys.modules, "gradio", None)  # as if the serve extra were not installed
    assert main(["serve", str(trained_run)]) == 2
    assert "pip install 'ganforge[serve]'" in capsys.readouterr().err
