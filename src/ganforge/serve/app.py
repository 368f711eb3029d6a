"""The web page (Gradio): one run picker above a row of tabs.

Each tab is a `Tab(title, build)`; `build(page)` lays out its components inside the tab and wires
them to plain functions (serve/runs.py, serve/monitor.py) that do the work. Adding a tab (e.g.
Translate for pix2pix runs, Stylize) means writing one builder and appending it to TABS, with
`applies` saying for which runs it makes sense.
"""

from __future__ import annotations

import functools
import ipaddress
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganforge.errors import GanforgeError
from ganforge.serve.monitor import snapshot
from ganforge.serve.runs import MAX_COUNT, MAX_FRAMES, MAX_SEED, ServedRun, interpolation_gif, judge, pick, sample_grid
from ganforge.serve.uploads import MAX_SIDE_PX, MAX_UPLOAD_BYTES, read_image_upload

EXTRA = "ganforge serve needs Gradio: pip install 'ganforge[serve]'"
REFRESH_SECONDS = 5.0
# GAN images are small: scale them up to the frame, pixel-sharp rather than blurred
CSS = ".scaled img { width: 100%; height: 100%; object-fit: contain; image-rendering: pixelated; }"


def _gradio() -> Any:
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no telemetry or update checks: offline page
    try:
        import gradio as gr
    except ImportError:
        raise GanforgeError(EXTRA) from None
    return gr


def _user_errors(fn: Callable) -> Callable:
    """Show GanforgeError messages on the page (the server carries on); hide anything else's internals."""
    gr = _gradio()

    @functools.wraps(fn)
    def wrapper(*args: Any) -> Any:
        try:
            return fn(*args)
        except GanforgeError as err:
            raise gr.Error(str(err), print_exception=False) from None

    return wrapper


@dataclass
class Page:
    """What every tab builder gets."""

    runs: dict[str, ServedRun]
    picker: Any  # the run dropdown; its value is a key of `runs`
    scratch: Path  # a private folder for files made for download
    blocks: Any  # the gr.Blocks being built (for .load events)


@dataclass
class Tab:
    title: str
    build: Callable[[Page], None]
    applies: Callable[[dict[str, ServedRun]], bool] = lambda runs: True


def generate_tab(page: Page) -> None:
    gr, runs, picker = _gradio(), page.runs, page.picker
    with gr.Row():
        with gr.Column(scale=1):
            seed = gr.Number(0, label="Seed", precision=0, minimum=0, maximum=MAX_SEED)
            count = gr.Slider(1, MAX_COUNT, value=16, step=1, label="Number of images")
            truncation = gr.Slider(0, 1, value=1, step=0.05, label="Truncation (1 = off; lower = tamer)")
            ema = gr.Checkbox(True, label="Use the EMA generator (when the run has one)")
            button = gr.Button("Generate", variant="primary", elem_id="generate")
        with gr.Column(scale=2):
            picture = gr.Image(label="Samples", format="png", type="numpy", interactive=False, height=420,
                               buttons=["download", "fullscreen"], elem_id="samples", elem_classes="scaled")
            info = gr.Markdown()

    def run_generate(name: str, seed: float, count: float, truncation: float, use_ema: bool) -> tuple:
        image, loaded = sample_grid(pick(runs, name), seed, count, truncation, use_ema)
        which = "EMA" if loaded.ema else "raw (this run keeps no EMA copy)" if use_ema else "raw"
        return _shown(image), f"step {loaded.step} · {which} generator · seed {int(seed)}"

    button.click(_user_errors(run_generate), [picker, seed, count, truncation, ema], [picture, info])

    gr.Markdown("### Interpolate between two seeds")
    with gr.Row():
        with gr.Column(scale=1):
            seed_a = gr.Number(0, label="Seed A", precision=0, minimum=0, maximum=MAX_SEED)
            seed_b = gr.Number(1, label="Seed B", precision=0, minimum=0, maximum=MAX_SEED)
            frames = gr.Slider(2, MAX_FRAMES, value=24, step=1, label="Frames from A to B")
            animate = gr.Button("Animate", elem_id="animate")
        with gr.Column(scale=2):
            animation = gr.Image(label="A -> B -> A (GIF)", type="filepath", interactive=False, height=300,
                                 buttons=["download"], elem_id="animation", elem_classes="scaled")

    def run_animate(name: str, a: float, b: float, n: float, truncation: float, use_ema: bool) -> str:
        return str(interpolation_gif(pick(runs, name), a, b, n, truncation, use_ema, page.scratch))

    animate.click(_user_errors(run_animate), [picker, seed_a, seed_b, frames, truncation, ema], animation)


def monitor_tab(page: Page) -> None:
    gr, runs, picker = _gradio(), page.runs, page.picker
    status = gr.Markdown(elem_id="monitor-status")
    with gr.Row():
        latest = gr.Image(label="Latest fixed-seed samples", type="numpy", format="png", interactive=False,
                          height=420, elem_classes="scaled")
        curves = gr.Image(label="Losses and D(x) / D(G(z))", type="numpy", format="png", interactive=False,
                          height=420)
    events = gr.Dataframe(headers=["step", "event", "details"], label="Doctor events", interactive=False)
    refresh = gr.Button("Refresh now")

    def run_refresh(name: str) -> tuple:
        view = snapshot(pick(runs, name))
        return view.status, view.latest_samples, view.curves, view.events or [["", "", "none recorded"]]

    outputs = [status, latest, curves, events]
    wired = _user_errors(run_refresh)
    refresh.click(wired, picker, outputs)
    picker.change(wired, picker, outputs)
    page.blocks.load(wired, picker, outputs)
    gr.Timer(REFRESH_SECONDS).tick(wired, picker, outputs, show_progress="hidden")


def judge_tab(page: Page) -> None:
    gr, runs, picker = _gradio(), page.runs, page.picker
    gr.Markdown("Upload an image: the run's discriminator says how likely it thinks the image is a real "
                "training image. A training signal, not a calibrated realism score. "
                f"Limits: {MAX_UPLOAD_BYTES // 2**20} MB, {MAX_SIDE_PX} px per side.")
    with gr.Row():
        upload = gr.File(label="Image (PNG, JPEG, WebP, BMP, GIF, TIFF)", type="filepath", elem_id="judge-upload")
        with gr.Column():
            seen = gr.Image(label="What D sees", type="numpy", format="png", interactive=False, height=256,
                            elem_classes="scaled")
            verdict = gr.Markdown(elem_id="judge-verdict")

    def run_judge(name: str, path: str | None) -> tuple:
        if not path:
            return None, ""
        try:  # a refused upload is an answer, shown where the result would be, not a pop-up
            picture = _rgb(read_image_upload(path))
        except GanforgeError as err:
            return None, f"**Refused:** {err}"
        array, probability = judge(pick(runs, name), picture)
        return _shown(array), f"D(x) = **{probability:.3f}** (1 = real)"

    upload.change(_user_errors(run_judge), [picker, upload], [seen, verdict])


def _shown(image_hwc: Any) -> Any:
    """Gradio displays grey images as (H, W), not (H, W, 1)."""
    return image_hwc[..., 0] if image_hwc.shape[-1] == 1 else image_hwc


def _rgb(image: Any) -> Any:
    import numpy as np

    return np.asarray(image.convert("RGB"))


TABS = [
    Tab("Generate", generate_tab),
    Tab("Training monitor", monitor_tab),
    Tab("Judge an image", judge_tab),
]


def build_app(runs: dict[str, ServedRun], scratch: Path) -> Any:
    """The page for these runs; `scratch` holds files made for download (GIFs)."""
    gr = _gradio()
    names = list(runs)
    with gr.Blocks(title="ganforge", analytics_enabled=False, delete_cache=(600, 3600)) as app:
        gr.Markdown("## ganforge")
        picker = gr.Dropdown(names, value=names[0], label="Run", interactive=len(names) > 1, elem_id="run")
        page = Page(runs, picker, scratch, app)
        with gr.Tabs():
            for tab in TABS:
                if tab.applies(runs):
                    with gr.Tab(tab.title):
                        tab.build(page)
    return app


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


def start(runs: dict[str, ServedRun], host: str = "127.0.0.1", port: int = 7860, block: bool = True) -> Any:
    """Start the server; with block=False return the running app (call .close() to stop it)."""
    warning = check_host(host)
    if warning:
        print(warning, file=sys.stderr)
    scratch = Path(tempfile.mkdtemp(prefix="ganforge-serve-"))
    app = build_app(runs, scratch)
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
    app.close()
    scratch = getattr(app, "ganforge_scratch", None)
    if scratch is not None:
        shutil.rmtree(scratch, ignore_errors=True)
