"""The web page's tabs: each a `Tab(title, build, supports)` whose builder lays out its components and wires
them to the plain functions of serve/runs.py, monitor.py, translate.py, stylize.py and mixing.py."""

from __future__ import annotations

from typing import Any

from ganforge.errors import GanforgeError
from ganforge.serve.mixing import makes_styles, mixing_tab
from ganforge.serve.monitor import snapshot
from ganforge.serve.page import (
    MONITOR,
    REFRESH_SECONDS,
    STYLE_POLL_SECONDS,
    Page,
    Tab,
    _black_canvas,
    _gradio,
    _pixels,
    _queued,
    _shown,
    _user_errors,
)
from ganforge.serve.runs import (
    ALL_CATEGORIES,
    ALL_CLASSES,
    MAX_COUNT,
    MAX_FRAMES,
    MAX_SEED,
    TRANSLATING,
    ServedRun,
    class_choices,
    interpolation_gif,
    judge,
    judge_by_class,
    pick,
    picker_label,
    sample_grid,
)
from ganforge.serve.stylize import MAX_STRENGTH, MAX_STYLE_SIZE, MAX_STYLE_STEPS, MIN_STYLE_SIZE
from ganforge.serve.translate import MAX_TRANSLATE_SIDE
from ganforge.serve.uploads import MAX_SIDE_PX, MAX_UPLOAD_BYTES, read_image_upload


def _makes_noise_images(run: ServedRun) -> bool:
    return run.kind in ("unconditional", "conditional")


def generate_tab(page: Page) -> None:
    gr, runs, picker = _gradio(), page.runs, page.picker

    def class_dropdown(run: ServedRun, **extra: Any) -> Any:
        """The class / category picker for a run: hidden when it has neither."""
        choices = class_choices(run)
        entries = choices or [ALL_CLASSES]
        return gr.Dropdown(choices=entries, value=entries[0], label=picker_label(run), visible=bool(choices), **extra)

    with gr.Row():
        with gr.Column(scale=1):
            seed = gr.Number(0, label="Seed", precision=0, minimum=0, maximum=MAX_SEED)
            count = gr.Slider(1, MAX_COUNT, value=16, step=1, label="Number of images")
            klass = class_dropdown(next(iter(runs.values())), elem_id="class")
            truncation = gr.Slider(0, 1, value=1, step=0.05, label="Truncation (1 = off; lower = tamer)")
            ema = gr.Checkbox(True, label="Use the EMA generator (when the run has one)")
            button = gr.Button("Generate", variant="primary", elem_id="generate")
        with gr.Column(scale=2):
            picture = gr.Image(label="Samples", format="png", type="numpy", interactive=False, height=420,
                               buttons=["download", "fullscreen"], elem_id="samples", elem_classes="scaled")
            info = gr.Markdown()

    def show_classes(name: str) -> Any:
        return class_dropdown(pick(runs, name))

    def picked(run: ServedRun, label: str) -> dict[str, str]:
        """The picker's value as a labelled class (conditional runs) or a latent category (InfoGAN runs)."""
        return {"class_name": label} if run.kind == "conditional" else {"category": label}

    # Built for the first run, updated on change only: an answer to a page-load event could arrive after
    # one for a run picked meanwhile, and hide the selector again.
    picker.change(_user_errors(show_classes), picker, klass, show_progress="hidden", queue=False,
                  api_visibility="private")

    def run_generate(name: str, seed: float, count: float, truncation: float, use_ema: bool, label: str) -> tuple:
        run = pick(runs, name)
        image, loaded = sample_grid(run, seed, count, truncation, use_ema, **picked(run, label))
        which = "EMA" if loaded.ema else "raw (this run keeps no EMA copy)" if use_ema else "raw"
        shown = ""
        if loaded.conditional:
            shown = " · every class" if label in (None, ALL_CLASSES) else f" · class {label}"
        elif label not in (None, "", ALL_CLASSES, ALL_CATEGORIES):
            shown = f" · latent category {label}"
        return _shown(image), f"**{run.name}** · step {loaded.step} · {which} generator · seed {int(seed)}{shown}"

    generated = button.click(_user_errors(run_generate), [picker, seed, count, truncation, ema, klass],
                             [picture, info], api_name="generate", **_queued("generate"))

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

    def run_animate(name: str, a: float, b: float, n: float, truncation: float, use_ema: bool, label: str) -> str:
        run = pick(runs, name)
        return str(interpolation_gif(run, a, b, n, truncation, use_ema, page.scratch, **picked(run, label)))

    animated = animate.click(_user_errors(run_animate), [picker, seed_a, seed_b, frames, truncation, ema, klass],
                             animation, api_name="animate", **_queued("animate"))
    page.run_changed([picture, info, animation], cancels=[generated, animated])


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

    timer = gr.Timer(REFRESH_SECONDS, active=False)  # on while this tab is open: other tabs cost the server nothing

    def run_refresh(name: str, on: str) -> tuple:
        if on != MONITOR:  # another tab is open; opening this one refreshes it
            return (gr.skip(),) * 4
        view = snapshot(pick(runs, name))
        return view.status, view.latest_samples, view.curves, view.events or [["", "", "none recorded"]]

    outputs, asks = [status, latest, curves, events], [picker, page.current]
    wired = _user_errors(run_refresh)
    refresh.click(wired, asks, outputs, api_name="monitor", **_queued("monitor"))
    page.run_changed(outputs, cancels=[]).then(wired, asks, outputs, api_visibility="private", **_queued("monitor"))
    page.on_tab_select += [(None, lambda on: gr.Timer(active=on == MONITOR), page.current, timer,
                            {"queue": False, "api_visibility": "private"}),
                           (MONITOR, wired, asks, outputs, {"api_visibility": "private", **_queued("monitor")})]
    timer.tick(wired, asks, outputs, show_progress="hidden", api_visibility="private", **_queued("monitor"))


def judge_tab(page: Page) -> None:
    gr, runs, picker = _gradio(), page.runs, page.picker
    gr.Markdown("Upload an image: the run's discriminator says how likely it thinks the image is a real "
                "training image (for a class-conditional run: a real image of each class, most likely first). "
                "A training signal, not a calibrated realism score. "
                f"Limits: {MAX_UPLOAD_BYTES // 2**20} MB, {MAX_SIDE_PX} px per side.")
    with gr.Row():
        upload = gr.File(label="Image (PNG, JPEG, WebP, BMP, GIF, TIFF)", type="filepath", elem_id="judge-upload")
        with gr.Column():
            seen = gr.Image(label="What D sees", type="numpy", format="png", interactive=False, height=256,
                            elem_classes="scaled")
            verdict = gr.Markdown(elem_id="judge-verdict")

    def run_judge(name: str, path: str | None) -> tuple:
        run = pick(runs, name)
        if not path or not _makes_noise_images(run):  # nothing uploaded, or a run without this tab
            return None, ""
        try:  # a refused upload is an answer, shown where the result would be, not a pop-up
            picture = _pixels(read_image_upload(path))  # RGBA when transparent: judged as training reads it
        except GanforgeError as err:
            return None, f"**Refused:** {err}"
        if run.kind == "conditional":
            array, ranked = judge_by_class(run, picture)
            shown = " · ".join(f"{label}: {p:.3f}" for label, p in ranked[:5])
            return _shown(array), (f"**{run.name}** · D(x | class), most likely first: **{shown}** "
                                   "(1 = a real image of that class)")
        array, probability = judge(run, picture)
        return _shown(array), f"**{run.name}** · D(x) = **{probability:.3f}** (1 = real)"

    wired = _user_errors(run_judge)
    judged = upload.change(wired, [picker, upload], [seen, verdict], api_name="judge", **_queued("judge"))
    # the same upload, judged again by the newly picked run's D
    page.run_changed([seen, verdict], cancels=[judged]).then(wired, [picker, upload], [seen, verdict],
                                                             api_visibility="private", **_queued("judge"))


def translate_tab(page: Page) -> None:
    from ganforge.serve.translate import DIRECTIONS, sketch_picture, translate_picture

    gr, runs, picker = _gradio(), page.runs, page.picker
    gr.Markdown("Draw on the black canvas (white lines, like the edge maps pix2pix runs train on) or upload a "
                "picture; the run's generator translates it. Pictures are scaled to the run's training size unless "
                f"you untick that (then up to {MAX_TRANSLATE_SIDE} px per side). Upload limits: "
                f"{MAX_UPLOAD_BYTES // 2**20} MB, {MAX_SIDE_PX} px per side.")
    with gr.Row():
        with gr.Column(scale=1):
            sketch = gr.Sketchpad(value=_black_canvas(), canvas_size=(256, 256), fixed_canvas=True, type="numpy",
                                  image_mode="RGBA", label="Sketch", layers=False, transforms=(),
                                  brush=gr.Brush(default_size=8, colors=["#ffffff", "#000000"],
                                                 default_color="#ffffff", color_mode="fixed"),
                                  elem_id="translate-sketch")
            invert = gr.Checkbox(False, label="Invert the sketch (for runs trained on dark lines on white)")
            drawn = gr.Button("Translate the sketch", variant="primary", elem_id="translate-sketch-button")
            upload = gr.File(label="...or upload a picture", type="filepath", elem_id="translate-upload")
            fit = gr.Checkbox(True, label="Scale to the run's training size")
            direction = gr.Radio(list(DIRECTIONS), value="A -> B", label="Direction (cyclegan runs)")
        with gr.Column(scale=2):
            with gr.Row():
                seen = gr.Image(label="Input (as the generator sees it)", type="numpy", format="png",
                                interactive=False, height=300, elem_id="translate-input", elem_classes="scaled")
                result = gr.Image(label="Output", type="numpy", format="png", interactive=False, height=300,
                                  buttons=["download", "fullscreen"], elem_id="translate-output",
                                  elem_classes="scaled")
            info = gr.Markdown(elem_id="translate-info")

    def answer(name: str, picture: Any, scale: bool, way: str = "A -> B") -> tuple:
        run = pick(runs, name)
        source, output = translate_picture(run, picture, scale, way)
        h, w = source.shape[:2]
        shown_way = f" · {way}" if run.kind == "unpaired" else ""
        return _shown(source), _shown(output), f"**{run.name}**{shown_way} · {w}x{h} px · step {run.translator().step}"

    def run_sketch(name: str, value: Any, flip: bool, scale: bool, way: str = "A -> B") -> tuple:
        picture = sketch_picture(value, flip)
        if picture is None:
            return None, None, "**Nothing drawn yet.** Draw on the canvas, then press the button."
        return answer(name, picture, scale, way)

    def run_upload(name: str, path: str | None, scale: bool, way: str = "A -> B") -> tuple:
        if not path:
            return None, None, ""
        try:  # a refused upload is an answer, shown where the result would be
            picture = read_image_upload(path)
        except GanforgeError as err:
            return None, None, f"**Refused:** {err}"
        return answer(name, picture, scale, way)

    outputs = [seen, result, info]
    sketched = drawn.click(_user_errors(run_sketch), [picker, sketch, invert, fit, direction], outputs,
                           api_name="translate_sketch", **_queued("translate"))
    uploaded = upload.change(_user_errors(run_upload), [picker, upload, fit, direction], outputs,
                             api_name="translate_upload", **_queued("translate"))
    page.run_changed(outputs, cancels=[sketched, uploaded])


def stylize_tab(page: Page) -> None:
    from ganforge.serve.stylize import StyleJob, check_request, feature_note

    gr = _gradio()
    gr.Markdown("Paint a content picture in the style of another (Gatys et al.; not tied to a run). "
                f"{feature_note()}", elem_id="stylize-note")
    with gr.Row():
        with gr.Column(scale=1):
            content = gr.File(label="Content picture", type="filepath", elem_id="stylize-content")
            style = gr.File(label="Style picture", type="filepath", elem_id="stylize-style")
            strength = gr.Slider(0.1, MAX_STRENGTH, value=1, step=0.1, label="Style strength (1 = default)")
            size = gr.Slider(MIN_STYLE_SIZE, MAX_STYLE_SIZE, value=256, step=16, label="Size (longer side, px)",
                             elem_id="stylize-size")
            steps = gr.Slider(1, MAX_STYLE_STEPS, value=75, step=1, elem_id="stylize-steps",
                              label="Steps at full size (each coarser scale: twice as many)")
            colour = gr.Checkbox(False, label="Keep the content's colours")
            with gr.Row():
                button = gr.Button("Stylize", variant="primary", elem_id="stylize")
                stop = gr.Button("Cancel", elem_id="stylize-cancel")
        with gr.Column(scale=2):
            result = gr.Image(label="Result", type="numpy", format="png", interactive=False, height=420,
                              buttons=["download", "fullscreen"], elem_id="stylize-result")
            info = gr.Markdown(elem_id="stylize-info")

    tracker = gr.Progress()  # Gradio fills a parameter whose default is a Progress with the page's progress bar

    def run_stylize(content_path: str | None, style_path: str | None, strength: float, size: float, steps: float,
                    keep: bool, progress: Any = tracker) -> Any:
        """A generator: between its yields Gradio can close it (Cancel, a closed page), which stops the job."""
        job = StyleJob.start(content_path, style_path, check_request(size, steps, strength, keep))
        try:
            while not job.wait(STYLE_POLL_SECONDS):
                if job.latest is not None:
                    height, width = job.latest.size
                    progress((job.latest.step, job.latest.total_steps), desc=f"{width}x{height}", unit="steps")
                yield gr.skip(), gr.skip()
            yield job.result()
        finally:
            job.cancel()  # a no-op once it has finished; otherwise it stops at its next step

    stylized = button.click(_user_errors(run_stylize), [content, style, strength, size, steps, colour],
                            [result, info], api_name="stylize", **_queued("stylize"))
    stop.click(lambda: "Cancelled.", None, info, cancels=[stylized], queue=False, api_visibility="private")


TABS = [
    Tab("Generate", generate_tab, _makes_noise_images),
    Tab("Translate", translate_tab, lambda run: run.kind in TRANSLATING),
    Tab(MONITOR, monitor_tab),
    Tab("Judge an image", judge_tab, _makes_noise_images),
    Tab("Stylize", stylize_tab),
    Tab("Style mixing", lambda page: mixing_tab(page, _gradio(), _user_errors, _queued, _shown), makes_styles),
]
