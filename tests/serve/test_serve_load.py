"""The served page under a small load, over the page's own queue protocol: concurrent requests are all answered
within each kind's concurrency limit, a full queue answers "busy" (and the page says so), and a stylisation
stops when its page goes away or Cancel is pressed."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers.page_queue import Busy, PageClient

pytestmark = pytest.mark.filterwarnings(r"ignore::Warning:gradio\..*")
WAIT_S = 60  # a bound on waits for the server, not a speed check


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _serving(run_dirs: list[Path], **options):
    pytest.importorskip("gradio", reason="gradio is not installed (pip install 'ganforge[serve]')")
    from ganforge.serve.app import start, stop
    from ganforge.serve.runs import open_runs

    port = _free_port()
    app = start(open_runs(run_dirs), "127.0.0.1", port, block=False, **options)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(app)


class InFlight:
    """Wraps a function to count the calls running at once; `gate`, when given, holds each call until set."""

    def __init__(self, fn: Callable, gate: threading.Event | None = None) -> None:
        self.fn, self.gate = fn, gate
        self.now = self.most = self.calls = 0
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)

    def __call__(self, *args, **kwargs):
        with self.lock:
            self.now, self.calls = self.now + 1, self.calls + 1
            self.most = max(self.most, self.now)
            self.changed.notify_all()
        try:
            if self.gate is not None:
                assert self.gate.wait(WAIT_S), "the test never opened the gate"
            return self.fn(*args, **kwargs)
        finally:
            with self.lock:
                self.now -= 1

    def wait_running(self, count: int) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: self.now == count, timeout=WAIT_S), f"{self.now} running"


def _ask(base: str, api_name: str, data: list) -> dict:
    client = PageClient(base)
    try:
        if api_name == "judge":
            data = [data[0], client.upload(data[1])]
        return client.call(api_name, data)
    finally:
        client.close()


def test_concurrent_generate_and_judge_are_all_answered_within_the_limits(trained_run, tmp_path, monkeypatch):
    import ganforge.serve.tabs as page_module
    from ganforge.serve.page import CONCURRENCY

    picture = tmp_path / "white.png"
    Image.new("RGB", (30, 20), "white").save(picture)
    generating, judging = InFlight(page_module.sample_grid), InFlight(page_module.judge)
    monkeypatch.setattr(page_module, "sample_grid", generating)
    monkeypatch.setattr(page_module, "judge", judging)
    requests = [("generate", ["tiny", seed, 4, 1.0, True, None]) for seed in range(8)]
    requests += [("judge", ["tiny", picture])] * 2
    with _serving([trained_run]) as base, ThreadPoolExecutor(len(requests)) as pool:  # one session each
        answers = list(pool.map(lambda request: _ask(base, *request), requests))
    assert [answer["success"] for answer in answers] == [True] * len(requests)
    infos = [answer["output"]["data"][1] for answer in answers]
    assert all(info.startswith("**tiny** · step 4 · EMA generator · seed ") for info in infos[:8])
    assert sorted(int(info.rsplit(" ", 1)[1]) for info in infos[:8]) == list(range(8))  # each its own answer
    assert all(info.startswith("**tiny** · D(x) = ") for info in infos[8:])
    assert generating.calls == 8 and judging.calls == 2
    assert 1 <= generating.most <= CONCURRENCY["generate"]
    assert judging.most == 1


def _browser(request):
    """The chromium fixture, or None where it is not installed (the test's HTTP part still runs)."""
    try:
        return request.getfixturevalue("chromium")
    except pytest.skip.Exception:
        return None


def test_a_full_queue_answers_busy_and_the_waiting_requests_still_complete(trained_run, monkeypatch, request):
    import ganforge.serve.tabs as page_module
    from ganforge.serve.page import CONCURRENCY

    gate = threading.Event()
    generating = InFlight(page_module.sample_grid, gate)
    monkeypatch.setattr(page_module, "sample_grid", generating)
    running, waiting = CONCURRENCY["generate"], 2
    with _serving([trained_run], max_waiting=waiting) as base, ThreadPoolExecutor(running + waiting) as pool:
        first = [pool.submit(_ask, base, "generate", ["tiny", seed, 1, 1.0, True, None]) for seed in range(running)]
        generating.wait_running(running)  # these hold the generate slots; the next ones wait in the queue
        clients = [PageClient(base) for _ in range(waiting + 2)]
        queued = [clients[i].join("generate", ["tiny", 10 + i, 1, 1.0, True, None]) for i in range(waiting)]
        for client in clients[waiting:]:
            with pytest.raises(Busy, match="Queue is full"):
                client.join("generate", ["tiny", 0, 1, 1.0, True, None])

        browser = _browser(request)
        if browser is not None:  # what a person sees at that moment: one line, no trace
            page = browser.new_page()
            page.set_default_timeout(WAIT_S * 1000)
            page.goto(base)
            page.get_by_role("button", name="Generate").click()
            page.get_by_text("This application is currently busy. Please try again.").wait_for()
            page.close()

        gate.set()
        answers = [future.result(timeout=WAIT_S) for future in first]
        for client, event_id in zip(clients, queued):
            answers.append(next(m for m in client.messages()
                                if m.get("msg") == "process_completed" and m.get("event_id") == event_id))
        for client in clients:
            client.close()
    assert [answer["success"] for answer in answers] == [True] * (running + waiting)
    assert generating.calls == running + waiting and generating.most == running


@pytest.fixture
def style_jobs(monkeypatch):
    """Every StyleJob the page starts."""
    from ganforge.serve.stylize import StyleJob

    started: list[StyleJob] = []
    plain = StyleJob.start.__func__

    def recorded(cls, *args):
        started.append(plain(cls, *args))
        return started[-1]

    monkeypatch.setattr(StyleJob, "start", classmethod(recorded))
    return started


@pytest.mark.parametrize("leave", ["close the page", "press Cancel"])
def test_a_stylisation_stops_when_its_page_goes_away_or_cancels(trained_run, tmp_path, monkeypatch, style_jobs,
                                                               leave):
    from ganforge.serve.stylize import MAX_STYLE_SIZE, MAX_STYLE_STEPS

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))  # offline: random features
    rng = np.random.default_rng(0)
    pictures = []
    for name in ("content", "style"):
        pictures.append(tmp_path / f"{name}.png")
        Image.fromarray(rng.integers(0, 256, (600, 800, 3), dtype=np.uint8)).save(pictures[-1])
    with _serving([trained_run]) as base:
        client = PageClient(base)
        files = [client.upload(path) for path in pictures]
        event_id = client.join("stylize", [*files, 1.0, MAX_STYLE_SIZE, MAX_STYLE_STEPS, False])
        for _ in client.messages():  # the largest request there is: minutes of work on a CPU
            if style_jobs and style_jobs[0].steps_done >= 1:
                break
        job = style_jobs[0]
        if leave == "press Cancel":
            client.cancel("stylize", event_id)
        client.close()  # closing the event stream is what a closed tab does
        job.thread.join(WAIT_S)
        assert job.cancelled and not job.thread.is_alive()
        assert job.steps_done < job.latest.total_steps  # stopped part-way, not run to the end
