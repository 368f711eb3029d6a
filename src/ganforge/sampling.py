"""Using a trained generator: load it from a checkpoint, sample, interpolate."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ganforge.checkpoint import load_checkpoint
from ganforge.errors import GanforgeError
from ganforge.images import grid, save_png, to_pil, to_uint8
from ganforge.models import create_model


@dataclass
class LoadedGenerator:
    G: nn.Module
    latent_dim: int
    step: int
    source: Path
    ema: bool = False  # True when these are the EMA weights


def load_generator(path: str | os.PathLike, use_ema: bool = True, device: str = "cpu") -> LoadedGenerator:
    """Rebuild G from the arguments stored in the checkpoint; the EMA copy when there is one."""
    state = load_checkpoint(path)
    try:
        G, _ = create_model(state["model"], **state["model_args"])
        ema = use_ema and state.get("G_ema") is not None
        G.load_state_dict(state["G_ema"] if ema else state["G"])
    except (KeyError, RuntimeError, TypeError) as err:
        raise GanforgeError(f"{path}: checkpoint does not match its model ({str(err).splitlines()[0][:120]})") from None
    G.to(device).eval()
    return LoadedGenerator(G, int(state["model_args"]["latent_dim"]), int(state["step"]), Path(path), ema)


def latents(n: int, latent_dim: int, seed: int) -> torch.Tensor:
    return torch.randn(n, latent_dim, generator=torch.Generator().manual_seed(seed))


def truncate(z: torch.Tensor, truncation: float, center: torch.Tensor | None = None) -> torch.Tensor:
    """The truncation trick: pull latents toward the prior's mean (0, or `center`) by a factor in [0, 1].

    1 leaves z alone (full variety); smaller values trade variety for typical, cleaner-looking samples.
    """
    if not 0 <= truncation <= 1:
        raise GanforgeError(f"--truncation must be between 0 and 1 (1 = off), got {truncation}")
    center = torch.zeros_like(z) if center is None else center.to(z)
    return center + truncation * (z - center)


@torch.no_grad()
def generate(G: nn.Module, z: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Images in [-1, 1], (N, C, H, W), in batches so any N fits in memory."""
    device = next(G.parameters()).device
    return torch.cat([G(chunk.to(device)).float().cpu() for chunk in z.split(batch_size)])


def slerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation: stays on the shell where Gaussian latents live, unlike a straight line."""
    a_n, b_n = a / a.norm(dim=-1, keepdim=True), b / b.norm(dim=-1, keepdim=True)
    omega = torch.acos((a_n * b_n).sum(-1, keepdim=True).clamp(-1 + 1e-7, 1 - 1e-7))
    so = torch.sin(omega)
    return (torch.sin((1 - t) * omega) / so) * a + (torch.sin(t * omega) / so) * b


def write_samples(images: torch.Tensor, out: str | os.PathLike) -> Path:
    """.png -> one grid; .npy -> uint8 (N, H, W, C); anything else -> a folder of PNGs.

    2D points (N, 2) -> .npy float32 (N, 2), or .png a scatter plot."""
    out = Path(out)
    if images.ndim == 2:
        return write_points(images, out)
    arr = to_uint8(images)
    if out.suffix.lower() == ".png":
        save_png(out, grid(images))
    elif out.suffix.lower() == ".npy":
        out.parent.mkdir(parents=True, exist_ok=True)
        np.save(out, arr)
    elif out.suffix:
        raise GanforgeError(f"-o {out}: use a .png (grid), .npy (array) or a directory name")
    else:
        out.mkdir(parents=True, exist_ok=True)
        width = len(str(len(arr) - 1))
        for i, image in enumerate(arr):
            save_png(out / f"{i:0{width}d}.png", image)
    return out


def write_points(points: torch.Tensor, out: Path) -> Path:
    if out.suffix.lower() == ".npy":
        out.parent.mkdir(parents=True, exist_ok=True)
        np.save(out, points.detach().float().cpu().numpy().astype(np.float32))
    elif out.suffix.lower() == ".png":
        from ganforge.train.plots2d import save_points

        save_points(out, points)
    else:
        raise GanforgeError(f"-o {out}: 2D samples are written as .npy (float32 (N, 2)) or .png (scatter plot)")
    return out


def interpolation_frames(G: nn.Module, latent_dim: int, walks: int, points: int, frames_per_leg: int,
                         seed: int) -> list[np.ndarray]:
    """`walks` parallel latent walks through `points` random points (looping back), one grid per frame."""
    keys = latents(walks * points, latent_dim, seed).view(points, walks, latent_dim)
    frames = []
    for p in range(points):
        a, b = keys[p], keys[(p + 1) % points]
        for f in range(frames_per_leg):
            images = generate(G, slerp(a, b, f / frames_per_leg))
            frames.append(grid(images, nrow=walks))
    return frames


def save_gif(frames: list[np.ndarray], out: str | os.PathLike, fps: int = 12) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    pictures = [to_pil(f) for f in frames]
    pictures[0].save(out, save_all=True, append_images=pictures[1:], duration=round(1000 / fps), loop=0)
    return out
