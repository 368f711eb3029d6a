"""Limits on one input image handed to a command (translate, stylize): its file size and, where the image is
used at its own size, its pixel count. Checked from the file's size and header, before anything is decoded."""

from __future__ import annotations

import warnings
from pathlib import Path

from PIL import Image

from ganforge.data.folder import DECODERS, MAX_PIXELS, BadImage

MAX_INPUT_BYTES = 256 * 2**20  # an uncompressed 4096 x 4096 RGB TIFF is 48 MiB; more is a wrong file
TRANSLATE_PIXELS = 4096 * 4096  # translate runs the U-Net at the image's own size: ~4 GB of activations here


def check_input_image(path: Path, max_pixels: int = MAX_PIXELS, why: str = "") -> None:
    """Raise BadImage when the file is larger than MAX_INPUT_BYTES or its header says more than max_pixels.
    Files whose header cannot be read pass: decoding them gives the precise reason."""
    size = path.stat().st_size
    if size > MAX_INPUT_BYTES:
        raise BadImage(f"too large ({size / 2**20:,.0f} MiB; input images may be at most "
                       f"{MAX_INPUT_BYTES / 2**20:,.0f} MiB)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path, formats=DECODERS) as image:
                width, height = image.size
    except Exception:  # noqa: BLE001 -- any unreadable header: open_image names the problem
        return
    if width * height > max_pixels:
        raise BadImage(f"too large ({width}x{height} pixels; at most {max_pixels:,}{why}): resize it first")
