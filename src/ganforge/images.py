"""The one place where images change representation.

Inside the library images are float tensors in [-1, 1], shaped (N, C, H, W). They become uint8
(N, H, W, C) arrays or PIL images only at I/O boundaries, through these functions.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image


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
    """One uint8 (H, W, C) array -> PIL image (grey for one channel)."""
    if image_hwc.shape[-1] == 1:
        return Image.fromarray(image_hwc[..., 0], mode="L")
    return Image.fromarray(image_hwc, mode="RGB")


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
    """uint8 (H, W, C) frames as one looping animated GIF."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    pictures = [to_pil(f) for f in frames]
    pictures[0].save(out, save_all=True, append_images=pictures[1:], duration=round(1000 / fps), loop=0)
    return out
