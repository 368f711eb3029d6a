"""The Style mixing tab: the classic StyleGAN figure for a style-based run (--model stylegan), built with the
page's own helpers (passed in, so this module does not import the page's)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ganforge.config.train_config import saved_settings
from ganforge.errors import GanforgeError
from ganforge.images import grid
from ganforge.serve.runs import MAX_SEED, ServedRun, pick, whole_number

MAX_SIDE = 8  # rows or columns of sources on the page


def makes_styles(run: ServedRun) -> bool:
    """Whether the run's generator is style-based, from its config.json (known before the first checkpoint)."""
    try:
        return saved_settings((run.path / "config.json").read_text()).get("model") == "stylegan"
    except (OSError, ValueError, GanforgeError):
        return False


def mixing_picture(run: ServedRun, seed: float, rows: float, cols: float, cutoff: float, truncation: float,
                   use_ema: bool = True) -> np.ndarray:
    """The mixing grid as uint8 (H, W, C): row sources from seeds seed.., column sources from the seeds after."""
    from ganforge.inference.styles import mix_images

    seed = whole_number(seed, "seed", 0, MAX_SEED)
    rows, cols = whole_number(rows, "rows", 1, MAX_SIDE), whole_number(cols, "columns", 1, MAX_SIDE)
    loaded = run.generator(use_ema)
    cut = whole_number(cutoff, "coarse layers", 0, 64) or None  # 0: the default, those up to 8 px
    images, per_row = mix_images(loaded, rows, cols, seed, cut, float(truncation))
    return grid(images, per_row)


def mixing_tab(page: Any, gr: Any, user_errors: Callable, queued: Callable, shown: Callable) -> None:
    """Sliders for the sources and the cut-off, and the grid."""
    with gr.Row():
        with gr.Column(scale=1):
            seed = gr.Number(0, label="First seed (rows, then columns)", precision=0, minimum=0, maximum=MAX_SEED)
            rows = gr.Slider(1, MAX_SIDE, value=4, step=1, label="Rows: coarse styles (layout, pose)")
            cols = gr.Slider(1, MAX_SIDE, value=4, step=1, label="Columns: fine styles (colour, texture)")
            cutoff = gr.Slider(0, 16, value=0, step=1, label="Style inputs from the row (0 = those up to 8 px)")
            truncation = gr.Slider(0, 1, value=1, step=0.05, label="Truncation around the mean w (1 = off)")
            ema = gr.Checkbox(True, label="Use the EMA generator (when the run has one)")
            button = gr.Button("Mix", variant="primary", elem_id="mix")
        with gr.Column(scale=2):
            picture = gr.Image(label="Style mixing", format="png", type="numpy", interactive=False, height=420,
                               buttons=["download", "fullscreen"], elem_id="mixing", elem_classes="scaled")

    def run_mix(name: str, seed: float, rows: float, cols: float, cutoff: float, truncation: float,
                use_ema: bool) -> Any:
        return shown(mixing_picture(pick(page.runs, name), seed, rows, cols, cutoff, truncation, use_ema))

    mixed = button.click(user_errors(run_mix), [page.picker, seed, rows, cols, cutoff, truncation, ema], picture,
                         api_name="mix", **queued("generate"))
    page.run_changed([picture], cancels=[mixed])
