"""report.html: self-contained (no URL to fetch), complete, and safe with odd content in metrics.jsonl."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from ganforge.cli import main
from ganforge.errors import GanforgeError
from ganforge.inference.report import write_report

ATTRIBUTE_URL = re.compile(r"""\b(?:src|href|action|poster)\s*=\s*["']?([^"'\s>]*)""", re.IGNORECASE)


@pytest.fixture
def run_with_event(trained_run, tmp_path):
    """A copy of the tiny run whose metrics.jsonl also holds a doctor event (with HTML in its text)."""
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    with open(run / "metrics.jsonl", "a") as handle:
        handle.write(json.dumps({"step": 4, "event": "d_overpowers_g",
                                 "message": "D wins <script>alert(1)</script>; lower --lr-d"}) + "\n")
    return run


def test_training_writes_a_complete_report(trained_run):
    html = (trained_run / "report.html").read_text()
    for section in ("Final samples", "Sample evolution", "Losses and D(x) / D(G(z))", "Doctor events",
                    "Metrics", "Configuration"):
        assert f"<h2>{section}</h2>" in html
    assert html.count("data:image/png;base64,") == 1 + 3 + 1  # final grid, 3 strip frames (steps 0, 2, 4), curves
    assert "step 4" in html and "loss/D" in html and "&quot;digits&quot;" in html


def test_report_has_no_external_urls_and_escapes_event_text(run_with_event, capsys):
    assert main(["report", str(run_with_event)]) == 0
    html = (run_with_event / "report.html").read_text()
    assert not re.search(r"https?:", html, re.IGNORECASE) and "url(" not in html and "@import" not in html
    urls = ATTRIBUTE_URL.findall(html)
    assert len(urls) == 5 and all(url.startswith("data:image/png;base64,") for url in urls)
    assert "d_overpowers_g" in html and "&lt;script&gt;" in html and "<script>" not in html
    assert "None recorded" not in html


def test_report_on_a_non_run_is_a_clear_error(tmp_path):
    with pytest.raises(GanforgeError, match="not a run directory"):
        write_report(tmp_path)


def test_report_opens_in_chromium_without_network_requests(run_with_event, chromium, tmp_path):
    path = write_report(run_with_event)
    page = chromium.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(path.as_uri(), wait_until="load")
    assert page.locator("img").count() == 5
    assert all(page.evaluate("[...document.images].map(i => i.complete && i.naturalWidth > 0)"))
    page.screenshot(path=tmp_path / "report.png", full_page=True)
    page.close()
    assert [url for url in requested if not url.startswith(("file:", "data:"))] == []
