"""The served page for a tiny trained run: a real server on a free loopback port, driven over HTTP and
by headless Chromium (Playwright). Screenshots are kept in test-artifacts/ (git-ignored)."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from ganforge.errors import GanforgeError

ARTIFACTS = Path(__file__).parents[1] / "test-artifacts"
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
