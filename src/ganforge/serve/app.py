"""The web page (Gradio): one run picker above a row of tabs.

Each tab (serve/tabs.py) is a `Tab(title, build, supports)`; `build(page)` lays out its components inside the tab and
wires them to plain functions (serve/runs.py, monitor.py, translate.py, stylize.py) that do the work.
`supports(run)` says for which runs the tab makes sense: the page shows the tabs the picked run
supports (Generate for noise runs, Translate for pix2pix runs, ...) and switches them with the picker.

Under load: every request that runs a network waits in Gradio's queue, at most CONCURRENCY[kind] of a kind at
once and at most MAX_WAITING waiting in all; past that the page answers "busy, please try again" (Gradio's
message) instead of piling up work. Switching runs is never queued, so it is never refused: it blanks what
the previous run made and cancels that run's requests still in flight.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import ipaddress
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from ganforge.errors import GanforgeError
from ganforge.serve.page import CSS, MAX_WAITING, Page, _gradio, _user_errors
from ganforge.serve.runs import ServedRun, pick
from ganforge.serve.tabs import TABS
from ganforge.serve.uploads import MAX_UPLOAD_BYTES


def build_app(runs: dict[str, ServedRun], scratch: Path, max_waiting: int = MAX_WAITING) -> Any:
    """The page for these runs; `scratch` holds files made for download (GIFs)."""
    gr = _gradio()
    names = list(runs)
    with gr.Blocks(title="ganforge", analytics_enabled=False, delete_cache=(600, 3600)) as app:
        gr.Markdown("## ganforge")
        picker = gr.Dropdown(names, value=names[0], label="Run", interactive=len(names) > 1, elem_id="run")
        built = [tab for tab in TABS if any(tab.supports(run) for run in runs.values())]
        current = gr.State(built[0].title)  # the tab the user is on, kept when another run supports it too
        page = Page(runs, picker, current, scratch, app)
        items = []
        # Every tab starts hidden and the page's load event shows the picked run's tabs: Gradio hides a tab
        # reliably only when it started hidden.
        with gr.Tabs() as tabs:
            for tab in built:
                with gr.Tab(tab.title, visible=False, id=tab.title) as item:
                    tab.build(page)
                items.append(item)
        for tab, item in zip(built, items):
            selected = item.select(lambda title=tab.title: title, None, current, queue=False,
                                   api_visibility="private")
            for only, fn, inputs, outputs, options in page.on_tab_select:
                if only in (None, tab.title):
                    selected = selected.then(fn, inputs, outputs, **options)

        def show_tabs(name: str, on: str) -> list:
            run = pick(runs, name)
            shown = [tab.title for tab in built if tab.supports(run)]
            selected = on if on in shown else shown[0]
            return [gr.Tab(visible=tab.title in shown) for tab in built] + [gr.Tabs(selected=selected), selected]

        wired = _user_errors(show_tabs)
        picker.change(wired, [picker, current], [*items, tabs, current], show_progress="hidden", queue=False,
                      api_visibility="private")
        app.load(wired, [picker, current], [*items, tabs, current], show_progress="hidden", queue=False,
                 api_visibility="private")
    return app.queue(default_concurrency_limit=1, max_size=max_waiting)


def check_host(host: str) -> str | None:
    """A warning when the page would be reachable from other machines, else None."""
    if host == "localhost":
        return None
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        pass
    return (f"warning: serving on {host}: anyone who can reach this machine on that address can use the page "
            "(there is no login). Use the default 127.0.0.1 to keep it local.")


def start(runs: dict[str, ServedRun], host: str = "127.0.0.1", port: int = 7860, block: bool = True,
          max_waiting: int = MAX_WAITING) -> Any:
    """Start the server; with block=False return the running app (call .close() to stop it)."""
    warning = check_host(host)
    if warning:
        print(warning, file=sys.stderr)
    scratch = Path(tempfile.mkdtemp(prefix="ganforge-serve-"))
    app = build_app(runs, scratch, max_waiting)
    try:
        app.launch(server_name=host, server_port=port, prevent_thread_lock=True, quiet=True, ssr_mode=False,
                   max_file_size=MAX_UPLOAD_BYTES, show_error=False, mcp_server=False, css=CSS,
                   footer_links=["settings"])
    except OSError as err:
        shutil.rmtree(scratch, ignore_errors=True)
        raise GanforgeError(f"--port {port}: cannot listen on {host}:{port} ({err}); choose another --port") from None
    app.ganforge_scratch = scratch
    print(f"ganforge serve: {', '.join(runs)} on http://{host}:{port}  (Ctrl-C to stop)", flush=True)
    if block:
        try:
            app.block_thread()
        finally:
            stop(app)
    return app


def stop(app: Any) -> None:
    """Shut the server down and delete its scratch folder."""
    _set_stop_event_on_server_loop(app)
    app.close()
    scratch = getattr(app, "ganforge_scratch", None)
    if scratch is not None:
        shutil.rmtree(scratch, ignore_errors=True)


def _set_stop_event_on_server_loop(app: Any) -> None:
    """Set gradio's stop event from the server's own event loop.

    gradio's close() sets that asyncio.Event from the calling thread; when a page's heartbeat stream is being
    cancelled on the server loop at the same moment, set() finds a waiter finishing under it and raises
    InvalidStateError (seen once in CI). Set on its loop first, close()'s own set() is a no-op.
    """
    event = getattr(getattr(app, "app", None), "stop_event", None)
    loop = getattr(event, "_loop", None)  # bound by asyncio on the first wait(); None when nobody waited
    if event is None or loop is None or not loop.is_running():
        return

    async def set_event() -> None:
        event.set()

    # A loop that is stopping on its own may not run it in time; close() still shuts the server down.
    with contextlib.suppress(concurrent.futures.TimeoutError, RuntimeError):
        asyncio.run_coroutine_threadsafe(set_event(), loop).result(timeout=5)
