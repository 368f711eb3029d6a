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
from ganforge.serve.runs import (
    ALL_CATEGORIES,
    ALL_CLASSES,
    class_choices,
    interpolation_gif,
    judge,
    judge_by_class,
    open_runs,
    pick,
    picker_label,
    sample_grid,
)
from ganforge.serve.stylize import check_request, feature_note, stylize_uploads
from ganforge.serve.translate import sketch_picture, translate_picture
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


def test_stop_sets_gradio_stop_event_on_the_server_loop_not_from_the_calling_thread():
    """gradio's close() sets an asyncio.Event from this thread; racing a heartbeat cancelled on the server loop,
    that raised InvalidStateError in CI. stop() first sets it on the loop that awaits it."""
    import asyncio
    import threading
    from types import SimpleNamespace

    from ganforge.serve.app import _set_stop_event_on_server_loop

    set_on = []

    class RecordingEvent(asyncio.Event):
        def set(self):
            set_on.append(threading.get_ident())
            super().set()

    loop = asyncio.new_event_loop()
    server = threading.Thread(target=loop.run_forever, daemon=True)
    server.start()
    event = RecordingEvent()
    waiter = asyncio.run_coroutine_threadsafe(event.wait(), loop)  # a heartbeat awaiting the stop
    for _ in range(500):  # wait() binds the event to the loop once it runs
        if getattr(event, "_loop", None) is loop:
            break
        threading.Event().wait(0.01)
    try:
        _set_stop_event_on_server_loop(SimpleNamespace(app=SimpleNamespace(stop_event=event)))
        assert waiter.result(timeout=5) is True
        assert set_on == [server.ident]
    finally:
        loop.call_soon_threadsafe(loop.stop)
        server.join(timeout=5)
        loop.close()
    _set_stop_event_on_server_loop(SimpleNamespace())  # an app without the event (older gradio): nothing to do


# --- conditional and pix2pix runs, Translate and Stylize --------------------------------------------
@pytest.fixture(scope="module")
def mixed(trained_run, conditional_trained_run, pix2pix_trained_run):
    return open_runs([trained_run, conditional_trained_run, pix2pix_trained_run])


def test_each_run_knows_its_kind(mixed):
    assert {name: run.kind for name, run in mixed.items()} == {"tiny": "unconditional", "cond": "conditional",
                                                                "edges": "pix2pix"}
    assert class_choices(mixed["cond"]) == [ALL_CLASSES, *map(str, range(10))]
    assert class_choices(mixed["tiny"]) == class_choices(mixed["edges"]) == []
    assert picker_label(mixed["cond"]) == "Class"
    with pytest.raises(GanforgeError, match="class-conditional and has labelled classes"):
        sample_grid(mixed["cond"], 0, 4, 1.0, category="3")
    for name in ("cond", "edges"):  # the monitor reads any run's log and samples
        view = snapshot(mixed[name])
        assert "step 2 · D(x)" in view.status and view.latest_samples is not None and view.curves is not None


def test_conditional_grid_by_class_with_ema_and_truncation(mixed):
    run = mixed["cond"]
    every, loaded = sample_grid(run, 0, 16, 1.0)
    assert loaded.conditional and loaded.ema
    assert every.shape == (10 * 18 + 2, 2 * 18 + 2, 1)  # a row for every class, ceil(16 / 10) = 2 each
    three, _ = sample_grid(run, 0, 4, 1.0, class_name="3")
    assert np.array_equal(three, sample_grid(run, 0, 4, 1.0, class_name="3")[0])  # deterministic
    assert not np.array_equal(three, sample_grid(run, 0, 4, 1.0, class_name="7")[0])  # the class matters
    raw, raw_loaded = sample_grid(run, 0, 4, 1.0, use_ema=False, class_name="3")
    assert not raw_loaded.ema and not np.array_equal(three, raw)
    a, _ = sample_grid(run, 1, 1, 0.0, class_name="3")  # full truncation: one image per class for every seed
    assert np.array_equal(a, sample_grid(run, 2, 1, 0.0, class_name="3")[0])
    assert not np.array_equal(a, sample_grid(run, 1, 1, 0.0, class_name="4")[0])
    with pytest.raises(GanforgeError, match="no such class"):
        sample_grid(run, 0, 4, 1.0, class_name="cat")


def test_conditional_interpolation_for_one_class_and_for_every_class(mixed, tmp_path):
    run = mixed["cond"]
    with Image.open(interpolation_gif(run, 5, 6, 3, 1.0, True, tmp_path, class_name="2")) as gif:
        assert gif.n_frames == 3 + 1 and gif.size == (16, 16)
        first = np.asarray(gif.convert("L"))
    single, _ = sample_grid(run, 5, 1, 1.0, class_name="2")
    assert np.abs(first.astype(int) - single[2:-2, 2:-2, 0]).max() <= 2  # GIF palette rounding
    with Image.open(interpolation_gif(run, 5, 6, 3, 1.0, False, tmp_path, class_name=ALL_CLASSES)) as gif:
        assert gif.n_frames == 4 and gif.size == (10 * 18 + 2, 18 + 2)  # every class side by side


def test_conditional_judge_scores_the_image_for_every_class(mixed):
    import torch

    from ganforge.images import from_uint8

    image = np.random.default_rng(2).integers(0, 256, (40, 30, 3), dtype=np.uint8)
    array, ranked = judge_by_class(mixed["cond"], image)
    assert array.shape == (16, 16, 1) and sorted(name for name, _ in ranked) == [str(i) for i in range(10)]
    probabilities = [p for _, p in ranked]
    assert probabilities == sorted(probabilities, reverse=True) and len(set(probabilities)) == 10
    D = mixed["cond"].discriminator()[0]
    name, best = ranked[0]
    with torch.no_grad():  # the same number as D asked about that one class alone
        alone = torch.sigmoid(D(from_uint8(array[None]), torch.tensor([int(name)]))).item()
    assert alone == pytest.approx(best, abs=1e-6)


def test_translate_picture_scales_to_the_training_size_or_keeps_its_own(mixed):
    run = mixed["edges"]
    picture = Image.fromarray(np.random.default_rng(1).integers(0, 256, (40, 30, 3), dtype=np.uint8))
    seen, output = translate_picture(run, picture)
    assert seen.shape == (16, 12, 1) and output.shape == (16, 12, 1)  # longer side -> 16 px, grey as trained
    again = translate_picture(run, picture)[1]
    assert np.array_equal(output, again)
    seen, output = translate_picture(run, picture, fit=False)
    assert seen.shape == output.shape == (40, 30, 1)
    with pytest.raises(GanforgeError, match="over 512 px per side"):
        translate_picture(run, Image.new("RGB", (600, 20)), fit=False)
    with pytest.raises(GanforgeError, match="not a translation run"):
        translate_picture(mixed["tiny"], picture)


def test_sketch_becomes_a_picture_only_when_something_was_drawn():
    canvas = np.zeros((8, 8, 4), np.uint8)
    canvas[..., 3] = 255  # the opaque black canvas alone
    assert sketch_picture({"composite": canvas}) is None and sketch_picture(None) is None
    canvas[2, 3] = [255, 255, 255, 255]
    picture = np.asarray(sketch_picture({"composite": canvas}))
    assert picture.shape == (8, 8, 3) and picture[2, 3].tolist() == [255] * 3 and picture.sum() == 3 * 255
    inverted = np.asarray(sketch_picture({"composite": canvas}, invert=True))
    assert inverted[2, 3].tolist() == [0] * 3 and inverted[0, 0].tolist() == [255] * 3


def test_stylize_settings_are_bounded():
    assert check_request(16, 2, 1.0, True).size == 16
    for args, message in [((8, 2, 1, False), "size"), ((1024, 2, 1, False), "size"), ((64, 0, 1, False), "steps"),
                          ((64, 301, 1, False), "steps"), ((64, 2, 0, False), "style strength"),
                          ((64, 2, 11, False), "style strength")]:
        with pytest.raises(GanforgeError, match=message):
            check_request(*args)


def test_stylize_uploads_offline_uses_random_features_and_reports_progress(tmp_path):
    rng = np.random.default_rng(0)
    content, style = tmp_path / "content.png", tmp_path / "style.jpg"
    Image.fromarray(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)).save(content)
    Image.fromarray(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)).save(style)
    assert "**random**" in feature_note() and "vgg19-dcbb9e9d.pth" in feature_note()
    steps = []
    image, summary = stylize_uploads(str(content), str(style), check_request(16, 2, 1.0, False), steps.append)
    assert image.shape == (12, 16, 3) and image.dtype == np.uint8
    assert summary.startswith("16x12 px") and "random features" in summary
    assert [s.step for s in steps] == [1, 2] and steps[-1].total_steps == 2
    with pytest.raises(GanforgeError, match="upload both"):
        stylize_uploads(str(content), None, check_request(16, 2, 1.0, False))
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(GanforgeError, match="notes.png: not an image"):
        stylize_uploads(str(content), str(tmp_path / "notes.png"), check_request(16, 2, 1.0, False))


def test_infogan_runs_offer_their_latent_categories(tiny_config, tmp_path):
    from dataclasses import replace

    from ganforge.training.loop import train

    train(replace(tiny_config, latent_classes=4, total_steps=2), tmp_path / "info", quiet=True)
    run = open_runs([tmp_path / "info"])["info"]
    assert run.kind == "unconditional" and class_choices(run) == [ALL_CATEGORIES, "0", "1", "2", "3"]
    assert picker_label(run).startswith("Latent category")
    two, _ = sample_grid(run, 0, 4, 1.0, category="2")
    assert np.array_equal(two, sample_grid(run, 0, 4, 1.0, category="2")[0])  # deterministic
    assert not np.array_equal(two, sample_grid(run, 0, 4, 1.0, category="3")[0])  # the category matters
    assert sample_grid(run, 0, 4, 1.0, category=ALL_CATEGORIES)[0].shape == two.shape  # the data's proportions
    assert sample_grid(run, 0, 4, 1.0, class_name=ALL_CLASSES)[0].shape == two.shape  # a picker built for a class
    with pytest.raises(GanforgeError, match="no such category"):
        sample_grid(run, 0, 4, 1.0, category="9")
    with pytest.raises(GanforgeError, match="not labelled classes; pick one with --category"):
        sample_grid(run, 0, 4, 1.0, class_name="2")  # a category is not a class
    with Image.open(interpolation_gif(run, 5, 6, 3, 1.0, True, tmp_path, category="1")) as gif:
        assert gif.n_frames == 4


@pytest.mark.parametrize("arch", [dict(d_arch="resnet", g_arch="resnet"), dict(model="mlp-gan")],
                         ids=["resnet", "mlp-gan"])
def test_runs_of_the_other_architectures_load_sample_and_judge(tiny_config, tmp_path, arch):
    from dataclasses import replace

    from ganforge.training.loop import train

    train(replace(tiny_config, total_steps=2, **arch), tmp_path / "other", quiet=True)
    run = open_runs([tmp_path / "other"])["other"]
    assert run.kind == "unconditional"
    grid, loaded = sample_grid(run, 3, 4, 1.0)
    assert grid.shape == (38, 38, 1) and np.array_equal(grid, sample_grid(run, 3, 4, 1.0)[0]) and loaded.step == 2
    array, probability = judge(run, np.full((40, 30, 3), 255, np.uint8))
    assert array.shape == (16, 16, 1) and 0 < probability < 1


def test_the_page_picks_a_latent_category_on_infogan_runs_and_a_class_on_conditional_runs(tiny_config, tmp_path,
                                                                                          conditional_trained_run):
    """The page's handlers (no browser): the picker is labelled for what it picks, and its value reaches
    sample_grid as a category on an InfoGAN run and as a class on a conditional run."""
    pytest.importorskip("gradio", reason="gradio is not installed (pip install 'ganforge[serve]')")
    from dataclasses import replace

    from ganforge.serve.app import build_app
    from ganforge.training.loop import train

    train(replace(tiny_config, latent_classes=4, total_steps=2), tmp_path / "info", quiet=True)
    app = build_app(open_runs([tmp_path / "info", conditional_trained_run]), tmp_path)
    handlers = {f.fn.__name__: f.fn for f in app.fns.values() if hasattr(f.fn, "__name__")}
    picker = next(b for b in app.blocks.values() if getattr(b, "elem_id", None) == "class")
    assert picker.label.startswith("Latent category") and picker.value == ALL_CATEGORIES and picker.visible
    _, info = handlers["run_generate"]("info", 0, 4, 1.0, True, "2")
    assert info.endswith("· latent category 2")
    _, info = handlers["run_generate"]("info", 0, 4, 1.0, True, ALL_CATEGORIES)
    assert "category" not in info
    assert str(handlers["run_animate"]("info", 5, 6, 3, 1.0, True, "1")).endswith(".gif")
    switched = handlers["show_classes"]("cond")
    assert switched.label == "Class" and switched.value == ALL_CLASSES
    _, info = handlers["run_generate"]("cond", 0, 4, 1.0, True, "3")
    assert info.endswith("· class 3")


def test_r3gan_runs_load_sample_and_offer_their_classes(tiny_config, tmp_path):
    """The page's run loader takes R3GAN runs like any noise-to-image run: plain, and class-conditional."""
    from dataclasses import replace

    from ganforge.training.loop import train

    r3gan = replace(tiny_config, model="r3gan", g_width=4, d_width=4, total_steps=1, ema_beta=0.9)
    train(r3gan, tmp_path / "r3", quiet=True)
    train(replace(r3gan, conditional=True, sample_count=10), tmp_path / "r3c", quiet=True)
    runs = open_runs([tmp_path / "r3", tmp_path / "r3c"])
    assert (runs["r3"].kind, runs["r3c"].kind) == ("unconditional", "conditional")
    grid, loaded = sample_grid(runs["r3"], 3, 4, 1.0)
    assert loaded.ema and np.array_equal(grid, sample_grid(runs["r3"], 3, 4, 1.0)[0])
    assert class_choices(runs["r3c"]) == [ALL_CLASSES, *map(str, range(10))]
    three, _ = sample_grid(runs["r3c"], 0, 4, 1.0, class_name="3")
    assert not np.array_equal(three, sample_grid(runs["r3c"], 0, 4, 1.0, class_name="7")[0])
