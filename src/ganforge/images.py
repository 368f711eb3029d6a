"""The one place where images change representation.

Inside the library images are float tensors in [-1, 1], shaped (N, C, H, W). They become uint8
(N, H, W, C) arrays or PIL images only at I/O boundaries, through these functions.

Every picture that enters ganforge (training folders, pix2pix pairs, translate inputs, the web page's uploads,
evaluation data) passes through `to_channels`, so transparency is handled one way everywhere: kept as a fourth
channel for `--channels 4`, otherwise composited onto white. `composite_on_white` does the same to tensors, for
whatever needs three colour channels from an RGBA run (feature extractors, GIFs).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")  # PIL modes that carry transparency ("P" may, in its info)
WHITE = (255, 255, 255, 255)


def has_alpha(image: Image.Image) -> bool:
    """Whether a PIL image is partly transparent (an alpha channel below 255 somewhere, or a palette / colour
    marked transparent); an RGBA file that is opaque everywhere is not."""
    if "transparency" in image.info:
        return True
    return image.mode in ALPHA_MODES and image.getchannel(image.mode[-1]).getextrema()[0] < 255


def _to_8bit(image: Image.Image) -> Image.Image:
    """Scale 16/32-bit integer and float images to 8 bits instead of letting PIL clip them."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or arr.max() > 255 else 255.0
        if image.mode == "F":
            top = max(float(arr.max()), 1e-8) if arr.max() > 1 else 1.0
        return Image.fromarray(np.clip(arr / top * 255.0, 0, 255).round().astype(np.uint8), mode="L")
    return image


def to_channels(image: Image.Image, channels: int) -> Image.Image:
    """Any PIL mode -> 'L' (1), 'RGB' (3) or 'RGBA' (4): how every picture enters ganforge.

    With 1 or 3 channels transparency is composited onto white (a transparent icon is drawn on paper, not on
    black); with 4 it is kept as the alpha channel (opaque pictures get alpha 255)."""
    image = _to_8bit(image)
    if image.mode == "P" or (image.mode in ("L", "RGB") and "transparency" in image.info):
        image = image.convert("RGBA")  # a palette or colour key marked transparent becomes real alpha
    if channels == 4:
        return image.convert("RGBA")
    if image.mode in ALPHA_MODES:
        image = Image.alpha_composite(Image.new("RGBA", image.size, WHITE), image.convert("RGBA"))
    return image.convert("L" if channels == 1 else "RGB")


def composite_on_white(images: torch.Tensor) -> torch.Tensor:
    """(N, 4, H, W) RGBA in [-1, 1] -> (N, 3, H, W) RGB over white, as `to_channels` does to files; other channel
    counts are returned unchanged."""
    if images.shape[1] != 4:
        return images
    alpha = (images[:, 3:].float() + 1) / 2
    return (images[:, :3].float() * alpha + (1 - alpha)).to(images.dtype)


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(N, C, H, W) floats in [-1, 1] -> (N, H, W, C) uint8."""
    x = images.detach().float().cpu().clamp(-1, 1)
    x = ((x + 1) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).numpy()


def from_uint8(array: np.ndarray | torch.Tensor) -> torch.Tensor:
    """(N, H, W, C) uint8 -> (N, C, H, W) float32 in [-1, 1]."""
    x = torch.as_tensor(array)
    return x.permute(0, 3, 1, 2).float().div(127.5).sub(1)


def to_pil(image_hwc: np.ndarray) -> Image.Image:
    """One uint8 (H, W, C) array -> PIL image (grey for one channel, transparent RGBA for four)."""
    if image_hwc.shape[-1] == 1:
        return Image.fromarray(image_hwc[..., 0], mode="L")
    return Image.fromarray(image_hwc, mode="RGBA" if image_hwc.shape[-1] == 4 else "RGB")


def grid(images: torch.Tensor, nrow: int | None = None, padding: int = 2) -> np.ndarray:
    """Tile (N, C, H, W) images in [-1, 1] into one uint8 (H', W', C) picture, `nrow` per row."""
    arr = to_uint8(images)
    n, h, w, c = arr.shape
    nrow = nrow or max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / nrow)
    out = np.zeros((rows * (h + padding) + padding, nrow * (w + padding) + padding, c), np.uint8)
    for i in range(n):
        r, col = divmod(i, nrow)
        y, x = padding + r * (h + padding), padding + col * (w + padding)
        out[y : y + h, x : x + w] = arr[i]
    return out


def save_png(path: str | os.PathLike, image_hwc: np.ndarray) -> None:
    """Write a uint8 (H, W, C) array as PNG, atomically (temp file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        to_pil(image_hwc).save(tmp, format="PNG")
        os.replace(tmp, path)
    finally:  # a failed write (disk full) leaves no temp file behind
        tmp.unlink(missing_ok=True)


def save_grid(path: str | os.PathLike, images: torch.Tensor, nrow: int | None = None) -> None:
    save_png(path, grid(images, nrow))


def save_gif(frames: list[np.ndarray], out: str | os.PathLike, fps: int = 12) -> Path:
    """uint8 (H, W, C) frames as one looping animated GIF (RGBA frames over white: GIF has no partial alpha)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    pictures = [to_channels(to_pil(f), 3 if f.shape[-1] == 4 else f.shape[-1]) for f in frames]
    pictures[0].save(out, save_all=True, append_images=pictures[1:], duration=round(1000 / fps), loop=0)
    return out
