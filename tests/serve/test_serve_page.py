"""The served page for a tiny trained run: a real server on a free loopback port, driven over HTTP and
by headless Chromium (Playwright). Screenshots are kept in test-artifacts/ (git-ignored)."""

from __future__ import annotations

import re
import socket
import urllib.error
import urllib.request

import numpy as np
import pytest

from ganforge.errors import GanforgeError

from helpers import REPO

ARTIFACTS = REPO / "test-artifacts"
TIMEOUT_MS = 30_000
pytestmark = pytest.mark.filterwarnings(r"ignore::Warning:gradio\..*")  # gradio's own pandas deprecations


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(trained_run):
    pytest.importorskip("gradio", reason="gradio is not installed (pip install 'ganforge[serve]')")
    from ganforge.serve.app import start, stop
    from ganforge.serve.runs import open_runs

    port = _free_port()
    app = start(open_runs([trained_run]), "127.0.0.1", port, block=False)
    yield f"http://127.0.0.1:{port}"
    stop(app)


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


def test_no_request_reaches_files_outside_the_page(server, trained_run):
    assert _status(server + "/") == 200
    for target in ["/etc/passwd", str(trained_run / "config.json"), str(trained_run / "checkpoints" / "latest.pt"),
                   "../../../../etc/passwd", "%2e%2e/%2e%2e/%2e%2e/etc/passwd"]:
        assert _status(f"{server}/gradio_api/file={target}") in (403, 404), target


def test_oversized_upload_is_refused_and_the_server_stays_up(server):
    import httpx

    from ganforge.serve.uploads import MAX_UPLOAD_BYTES

    big = {"files": ("big.png", b"\0" * (MAX_UPLOAD_BYTES + 1), "image/png")}
    response = httpx.post(f"{server}/gradio_api/upload", files=big, timeout=30)
    assert response.status_code == 413 and "maximum allowed size" in response.text
    assert _status(server + "/") == 200


def test_a_busy_port_is_a_clear_error(server, trained_run):
    from ganforge.serve.app import start
    from ganforge.serve.runs import open_runs

    port = int(server.rsplit(":", 1)[1])
    with pytest.raises(GanforgeError, match=f"--port {port}"):
        start(open_runs([trained_run]), "127.0.0.1", port, block=False)


@pytest.fixture
def page(chromium, server):
    page = chromium.new_page(viewport={"width": 1200, "height": 900})
    page.set_default_timeout(TIMEOUT_MS)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(server)
    yield page
    page.close()
    outside = [url for url in requested if not url.startswith((server, "data:", "blob:"))]
    assert outside == [], "the page fetched something from outside this server"


def test_generate_shows_an_image(page):
    page.get_by_role("button", name="Generate").click()
    image = page.locator("#samples img")
    image.wait_for()
    page.wait_for_function("document.querySelector('#samples img').naturalWidth > 0")
    assert image.evaluate("img => img.naturalWidth") == 74  # the default 16 samples: 4 x 16 px + 5 x 2 px padding
    page.get_by_text("step 4 · EMA generator · seed 0").wait_for()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "serve-generate.png", full_page=True)


def test_invalid_upload_gets_a_message_and_the_server_stays_up(page, tmp_path):
    page.get_by_role("tab", name="Judge an image").click()
    upload = page.locator("#judge-upload input[type=file]")
    bad = tmp_path / "holiday.png"
    bad.write_text("this is a text file with an image's name")
    upload.set_input_files(bad)
    page.get_by_text("holiday.png: not an image ganforge can read").wait_for()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "serve-invalid-upload.png", full_page=True)

    from PIL import Image

    good = tmp_path / "white.png"
    Image.new("RGB", (30, 20), "white").save(good)
    page.locator("#judge-upload button[aria-label='Clear']").first.click()
    page.locator("#judge-upload input[type=file]").set_input_files(good)
    page.get_by_text("D(x) =").wait_for()


def test_monitor_shows_the_run(page):
    page.get_by_role("tab", name="Training monitor").click()
    page.get_by_text("step 4 · D(x)").wait_for()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "serve-monitor.png", full_page=True)


# --- several runs of different kinds: tabs follow the picked run; Translate, Stylize, class selector ----
@pytest.fixture(scope="module")
def mixed_server(trained_run, conditional_trained_run, pix2pix_trained_run, tmp_path_factory):
    pytest.importorskip("gradio", reason="gradio is not installed (pip install 'ganforge[serve]')")
    from ganforge.serve.app import start, stop
    from ganforge.serve.runs import open_runs

    port = _free_port()
    with pytest.MonkeyPatch.context() as patch:  # an empty torch hub cache: Stylize must announce random features
        patch.setenv("TORCH_HOME", str(tmp_path_factory.mktemp("torch_home")))
        app = start(open_runs([trained_run, conditional_trained_run, pix2pix_trained_run]), "127.0.0.1", port,
                    block=False)
        yield f"http://127.0.0.1:{port}"
        stop(app)


@pytest.fixture
def mixed_page(chromium, mixed_server):
    page = chromium.new_page(viewport={"width": 1200, "height": 1000})
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(mixed_server)
    page.get_by_role("tab", name="Generate").wait_for()  # the load event has shown the first run's tabs
    yield page
    page.close()


def _pick_run(page, name: str, tabs: list[str], selected: str) -> None:
    """Pick a run and wait until the page shows exactly `tabs`, with `selected` open."""
    from playwright.sync_api import expect

    page.locator("#run input").click()
    page.get_by_role("option", name=name, exact=True).click()
    expect(page.get_by_role("tab")).to_have_text(tabs, timeout=TIMEOUT_MS)
    page.get_by_role("tab", name=selected, selected=True).wait_for()


def _image_width(page, selector: str) -> int:
    page.wait_for_function(f"document.querySelector('{selector} img')?.naturalWidth > 0")
    return page.locator(f"{selector} img").evaluate("img => img.naturalWidth")


def test_tabs_follow_the_run_and_conditional_runs_get_a_class_selector(mixed_page):
    page = mixed_page
    noise_tabs = ["Generate", "Training monitor", "Judge an image", "Stylize"]
    assert page.get_by_role("tab").all_inner_texts() == noise_tabs
    assert not page.locator("#class").is_visible()
    page.locator("#run input").click()
    page.get_by_role("option", name="cond", exact=True).click()
    page.locator("#class").wait_for(state="visible")  # conditional and noise runs share their tabs
    page.locator("#class input").click()
    page.get_by_role("option", name="3", exact=True).click()
    page.get_by_role("button", name="Generate").click()
    page.get_by_text("step 2 · EMA generator · seed 0 · class 3").wait_for()
    assert _image_width(page, "#samples") == 74  # 16 samples of class 3: 4 x 16 px + 5 x 2 px padding
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "serve-class-selector.png", full_page=True)
    page.get_by_role("tab", name="Training monitor").click()
    # a pix2pix run: Translate instead of Generate and Judge; the tab the user is on stays open
    _pick_run(page, "edges", ["Translate", "Training monitor", "Stylize"], "Training monitor")


def test_translate_shows_the_output_beside_the_input(mixed_page, tmp_path):
    from PIL import Image

    page = mixed_page
    _pick_run(page, "edges", ["Translate", "Training monitor", "Stylize"], "Translate")
    bad = tmp_path / "sketch.png"
    bad.write_text("not a picture")
    page.locator("#translate-upload input[type=file]").set_input_files(bad)
    page.get_by_text("sketch.png: not an image ganforge can read").wait_for()

    good = tmp_path / "edges.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 30, 3), dtype=np.uint8)).save(good)
    page.locator("#translate-upload button[aria-label='Clear']").first.click()
    page.locator("#translate-upload input[type=file]").set_input_files(good)
    page.get_by_text("12x16 px · step 2").wait_for()
    assert _image_width(page, "#translate-input") == _image_width(page, "#translate-output") == 12

    page.get_by_role("button", name="Translate the sketch").click()
    page.get_by_text("Nothing drawn yet").wait_for()
    box = page.locator("#translate-sketch canvas").first.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.3)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.7, box["y"] + box["height"] * 0.6, steps=8)
    page.mouse.up()
    page.get_by_role("button", name="Translate the sketch").click()
    page.get_by_text("16x16 px · step 2").wait_for()  # the 256 px canvas, scaled to the training size
    assert _image_width(page, "#translate-output") == 16
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "serve-translate.png", full_page=True)


def test_stylize_shows_a_result(mixed_page, tmp_path):
    from PIL import Image

    page = mixed_page
    page.get_by_role("tab", name="Stylize").click()
    page.get_by_text("Features: random").wait_for()  # offline: announced before anything runs
    rng = np.random.default_rng(0)
    for name, shape in (("content", (24, 32, 3)), ("style", (20, 20, 3))):
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(tmp_path / f"{name}.png")
        page.locator(f"#stylize-{name} input[type=file]").set_input_files(tmp_path / f"{name}.png")
    for name, value in (("size", "16"), ("steps", "2")):
        field = page.locator(f"#stylize-{name} input[type=number]")
        field.fill(value)
        field.press("Enter")
    page.get_by_role("button", name="Stylize", exact=True).click()
    page.get_by_text("16x12 px · 2 steps at full size · random features").wait_for()
    assert _image_width(page, "#stylize-result") == 16
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "serve-stylize.png", full_page=True)


def test_switching_runs_leaves_nothing_of_the_previous_run_on_screen(mixed_page, tmp_path):
    """What one run made (grid, GIF, verdict, translation) goes when another run is picked; the class selector
    shows only for runs with classes; Judge answers again for the same upload with the new run's D."""
    from PIL import Image
    from playwright.sync_api import expect

    page = mixed_page
    _pick_run(page, "cond", ["Generate", "Training monitor", "Judge an image", "Stylize"], "Generate")
    page.locator("#class").wait_for(state="visible")
    page.get_by_role("button", name="Generate").click()
    page.get_by_text("cond · step 2 · EMA generator · seed 0 · every class").wait_for()
    page.get_by_role("button", name="Animate").click()
    _image_width(page, "#animation")
    _pick_run(page, "tiny", ["Generate", "Training monitor", "Judge an image", "Stylize"], "Generate")
    page.locator("#class").wait_for(state="hidden")  # no classes, no selector
    page.locator("#samples img").wait_for(state="detached")
    page.locator("#animation img").wait_for(state="detached")
    # Retried, and "cond ·" rather than "cond": the picker's closing option list may still hold the bare name.
    expect(page.get_by_text("every class")).to_have_count(0, timeout=TIMEOUT_MS)
    expect(page.get_by_text("cond ·")).to_have_count(0, timeout=TIMEOUT_MS)

    picture = tmp_path / "white.png"
    Image.new("RGB", (30, 20), "white").save(picture)
    page.get_by_role("tab", name="Judge an image").click()
    page.locator("#judge-upload input[type=file]").set_input_files(picture)
    page.get_by_text("tiny · D(x) =").wait_for()
    _pick_run(page, "cond", ["Generate", "Training monitor", "Judge an image", "Stylize"], "Judge an image")
    page.get_by_text("cond · D(x | class), most likely first").wait_for()  # the same upload, the new run's D
    assert page.get_by_text("tiny · D(x) =").count() == 0

    _pick_run(page, "edges", ["Translate", "Training monitor", "Stylize"], "Translate")
    page.locator("#translate-upload input[type=file]").set_input_files(picture)
    page.get_by_text(re.compile(r"edges · \d+x\d+ px · step 2")).wait_for()
    _pick_run(page, "tiny", ["Generate", "Training monitor", "Judge an image", "Stylize"], "Generate")
    _pick_run(page, "edges", ["Translate", "Training monitor", "Stylize"], "Translate")
    page.locator("#translate-output img").wait_for(state="detached")
    assert page.get_by_text(re.compile(r"\d+x\d+ px · step")).count() == 0

    page.get_by_role("tab", name="Training monitor").click()
    page.get_by_text("edges: step 2").wait_for()
    _pick_run(page, "tiny", ["Generate", "Training monitor", "Judge an image", "Stylize"], "Training monitor")
    page.get_by_text("tiny: step 4").wait_for()
    assert page.get_by_text("edges: step").count() == 0


def test_the_monitor_refreshes_itself_only_while_it_is_open(chromium, trained_run, tmp_path, monkeypatch):
    """Open on another tab, a page costs the server no refreshes; open on the monitor, new log records show."""
    import shutil

    import ganforge.serve.tabs as page_module
    from ganforge.serve.app import start, stop
    from ganforge.serve.monitor import snapshot
    from ganforge.serve.runs import open_runs

    run_dir = tmp_path / "live"
    shutil.copytree(trained_run, run_dir)
    refreshed = []
    monkeypatch.setattr(page_module, "REFRESH_SECONDS", 0.5)
    monkeypatch.setattr(page_module, "snapshot", lambda run: refreshed.append(run.name) or snapshot(run))
    port = _free_port()
    app = start(open_runs([run_dir]), "127.0.0.1", port, block=False)
    page = chromium.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    try:
        page.goto(f"http://127.0.0.1:{port}")
        page.get_by_role("tab", name="Generate", selected=True).wait_for()
        page.wait_for_timeout(4 * 500)  # four refresh periods on the Generate tab
        assert refreshed == []
        page.get_by_role("tab", name="Training monitor").click()
        page.get_by_text("live: step 4").wait_for()
        with open(run_dir / "metrics.jsonl", "a") as handle:  # training goes on
            handle.write('{"step": 6, "loss/D": 1.0, "loss/G": 1.0}\n')
        page.get_by_text("live: step 6").wait_for()  # no click: the timer's refresh
        page.get_by_role("tab", name="Stylize").click()
        page.wait_for_timeout(500)  # a refresh already under way may still land
        seen = len(refreshed)
        page.wait_for_timeout(4 * 500)
        assert len(refreshed) == seen
    finally:
        page.close()
        stop(app)
