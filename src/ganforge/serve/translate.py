"""The Translate tab's work: a drawn or uploaded picture through a pix2pix run's generator, or either of a
cyclegan run's (the tab's direction switch)."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from ganforge.errors import GanforgeError
from ganforge.images import from_uint8, to_channels, to_uint8
from ganforge.inference.translate import translate_images
from ganforge.serve.runs import TRANSLATING, ServedRun
from ganforge.style.gatys import fit_long_side

MAX_TRANSLATE_SIDE = 512  # at its own size a picture costs U-Net time ~ its pixel count; keep the page responsive


DIRECTIONS = {"A -> B": "AtoB", "B -> A": "BtoA"}  # the switch's labels (cyclegan runs)


def translate_picture(run: ServedRun, picture: Image.Image, fit: bool = True,
                      direction: str = "AtoB") -> tuple[np.ndarray, np.ndarray]:
    """(the input as the generator sees it, its translation), both uint8 (H, W, C).

    fit: scale the longer side to the training resolution, the scale the run learned; otherwise the
    picture is used at its own size, up to MAX_TRANSLATE_SIDE per side. direction: a cyclegan run's
    generator (AtoB or BtoA, or the switch's label); a pix2pix run has one."""
    if run.kind not in TRANSLATING:
        raise GanforgeError(f"run {run.name} is not a translation run; Translate needs one trained with --model "
                            "pix2pix or cyclegan")
    translator = run.translator(DIRECTIONS.get(direction, direction))
    picture = to_channels(picture, translator.in_channels)  # as training read its files (transparency on white)
    if fit:
        resolution = int(translator.config["resolution"])
        h, w = fit_long_side((picture.height, picture.width), resolution)
        picture = picture.resize((w, h), Image.Resampling.LANCZOS)
    elif max(picture.size) > MAX_TRANSLATE_SIDE:
        raise GanforgeError(f"{picture.width}x{picture.height} px is over {MAX_TRANSLATE_SIDE} px per side; "
                            "tick 'scale to the training size' or use a smaller picture")
    array = np.asarray(picture).reshape(picture.height, picture.width, translator.in_channels)
    output = translate_images(translator.G, from_uint8(torch.from_numpy(array.copy())[None]), translator.stride)
    return array, to_uint8(output)[0]


def sketch_picture(value: dict | np.ndarray | None, invert: bool = False) -> Image.Image | None:
    """The sketchpad's composite (RGBA over the black canvas) as an RGB picture; None when nothing was drawn."""
    composite = value.get("composite") if isinstance(value, dict) else value
    if composite is None:
        return None
    array = np.asarray(composite)
    if array.ndim != 3 or not array[..., :3].any():  # the black canvas alone
        return None
    if array.ndim == 3 and array.shape[-1] == 4:  # transparent where nothing was painted: that is the background
        alpha = array[..., 3:].astype(np.float32) / 255
        array = (array[..., :3] * alpha).round().astype(np.uint8)
    picture = Image.fromarray(array).convert("RGB")
    return Image.fromarray(255 - np.asarray(picture)) if invert else picture
