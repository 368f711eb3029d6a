"""Built-in data sets that need no download: scikit-learn's digits, stacked digits and procedural shapes."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ganforge.data.dataset import ImageDataset
from ganforge.errors import GanforgeError
from ganforge.registry import Registry

# name -> (resolution, channels, ...) -> ImageDataset; the sets below register themselves as this module loads
BUILTIN_DATASETS: Registry = Registry("built-in data set")


def _resize_uint8(images: torch.Tensor, resolution: int) -> torch.Tensor:
    """uint8 (N, H, W, C) -> uint8 (N, R, R, C), antialiased."""
    x = images.permute(0, 3, 1, 2).float()
    x = F.interpolate(x, size=(resolution, resolution), mode="bicubic", align_corners=False, antialias=True)
    return x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous()


def _set_channels(images: torch.Tensor, channels: int) -> torch.Tensor:
    if images.shape[3] == channels:
        return images
    if channels == 3:
        return images.expand(-1, -1, -1, 3).contiguous()
    weights = torch.tensor([0.299, 0.587, 0.114])
    return (images.float() @ weights).round().clamp(0, 255).to(torch.uint8).unsqueeze(-1)


@BUILTIN_DATASETS.register("digits")
def digits(resolution: int = 32, channels: int = 1) -> ImageDataset:
    """scikit-learn's 1,797 handwritten 8x8 digits (values 0..16), bright ink on dark, upscaled."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    small = torch.from_numpy((bunch.images * (255.0 / 16.0)).round().astype(np.uint8)).unsqueeze(-1)
    images = _set_channels(_resize_uint8(small, resolution), channels)
    labels = torch.from_numpy(bunch.target.astype(np.int64))
    return ImageDataset(images, labels, [str(i) for i in range(10)], name="digits")


SHAPE_NAMES = ["circle", "square", "triangle", "ring", "cross"]


def _shape_mask(kind: str, yy: np.ndarray, xx: np.ndarray, cy: float, cx: float, r: float) -> np.ndarray:
    dy, dx = yy - cy, xx - cx
    if kind == "circle":
        return dy**2 + dx**2 <= r**2
    if kind == "square":
        return (np.abs(dy) <= r * 0.85) & (np.abs(dx) <= r * 0.85)
    if kind == "triangle":  # apex up
        return (dy <= r * 0.8) & (dy >= -r) & (np.abs(dx) <= (dy + r) * 0.6)
    if kind == "ring":
        d2 = dy**2 + dx**2
        return (d2 <= r**2) & (d2 >= (0.55 * r) ** 2)
    if kind == "cross":
        arm = r * 0.3
        return ((np.abs(dy) <= arm) & (np.abs(dx) <= r)) | ((np.abs(dx) <= arm) & (np.abs(dy) <= r))
    raise ValueError(kind)


def render_shapes(count: int, resolution: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Procedural coloured shapes on gradient backgrounds: uint8 (N, R, R, 3) and labels (N,)."""
    rng = np.random.default_rng(seed)
    supersample = 2  # draw at 2x and average down, for smooth edges at any resolution
    size = resolution * supersample
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    images = np.empty((count, resolution, resolution, 3), np.uint8)
    labels = rng.integers(0, len(SHAPE_NAMES), count)
    for i in range(count):
        c0, c1 = rng.uniform(0, 1, 3), rng.uniform(0, 1, 3)
        angle = rng.uniform(0, 2 * np.pi)
        t = np.clip(0.5 + (np.cos(angle) * (xx - 0.5) + np.sin(angle) * (yy - 0.5)), 0, 1)[..., None]
        canvas = c0 * (1 - t) + c1 * t
        colour = rng.uniform(0, 1, 3)
        while np.abs(colour - (c0 + c1) / 2).sum() < 0.6:  # keep the shape visible against its background
            colour = rng.uniform(0, 1, 3)
        r = rng.uniform(0.18, 0.32)
        cy, cx = rng.uniform(r, 1 - r, 2)
        mask = _shape_mask(SHAPE_NAMES[labels[i]], yy, xx, cy, cx, r)
        canvas[mask] = colour
        canvas = canvas.reshape(resolution, supersample, resolution, supersample, 3).mean(axis=(1, 3))
        images[i] = np.round(canvas * 255)
    return images, labels


@BUILTIN_DATASETS.register("shapes")
def shapes(resolution: int = 32, channels: int = 3, count: int = 5000, seed: int = 0) -> ImageDataset:
    """Five kinds of coloured shape on varied gradient backgrounds, labelled by kind."""
    images, labels = render_shapes(count, resolution, seed)
    tensor = _set_channels(torch.from_numpy(images), channels)
    return ImageDataset(tensor, torch.from_numpy(labels.astype(np.int64)), list(SHAPE_NAMES), name="shapes")


STACKED_COUNT = 60_000


@BUILTIN_DATASETS.register("stacked-digits")
def stacked_digits(resolution: int = 16, channels: int = 3, count: int = STACKED_COUNT, seed: int = 0) -> ImageDataset:
    """Stacked digits (the Stacked-MNIST test): three random digits as the R, G and B channels.

    1,000 modes (one per digit triple); the label is 100 * red + 10 * green + blue."""
    if channels != 3:
        raise GanforgeError("--data stacked-digits is a 3-channel data set; drop --channels or use --channels 3")
    source = digits(resolution=resolution, channels=1)
    g = torch.Generator().manual_seed(seed)
    picks = torch.randint(0, len(source), (count, 3), generator=g)  # (N, 3): one source digit per channel
    images = source.images[picks].squeeze(-1).permute(0, 2, 3, 1).contiguous()  # (N, 3, R, R, 1) -> (N, R, R, 3)
    digit = source.labels[picks]  # (N, 3)
    labels = digit[:, 0] * 100 + digit[:, 1] * 10 + digit[:, 2]
    return ImageDataset(images, labels, [f"{i:03d}" for i in range(1000)], name="stacked-digits")
