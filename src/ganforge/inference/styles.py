"""What a style-based generator (models/stylegan.py) offers beyond z -> image: truncation around the tracked mean
w, walks in w space, the style-mixing grid, and latents read from a file (`ganforge project` writes them).

A latents file is a plain .npy (never unpickled): for a style-based run w+ (N, num_ws, w_dim) or w (N, w_dim);
for any other noise-to-image run z (N, latent_dim).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ganforge.errors import GanforgeError

MAX_LATENTS = 1024  # latents in one file: more is not a file `project` wrote
MAX_LATENT_BYTES = 64 * 2**20
FLOAT_KINDS = ("f",)  # float16/32/64 only: ints, bools, complex, objects are refused


def is_style_based(G: nn.Module) -> bool:
    """Whether G has a mapping network and a tracked mean w (the style tools apply)."""
    return all(hasattr(G, name) for name in ("mapping", "synthesis", "w_avg", "num_ws"))


class TruncatedGenerator(nn.Module):
    """z -> image through G with w pulled toward G's mean w by `truncation` (1: off)."""

    def __init__(self, G: nn.Module, truncation: float) -> None:
        super().__init__()
        self.G, self.truncation = G, truncation

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.G.synthesis(self.G.ws(self.G.map(z, self.truncation)))


@torch.no_grad()
def mapped(G: nn.Module, z: torch.Tensor, truncation: float = 1.0) -> torch.Tensor:
    """w+ (N, num_ws, w_dim) of latents z, truncated around the mean w."""
    device = next(G.parameters()).device
    return torch.cat([G.ws(G.map(chunk.to(device), truncation)).cpu() for chunk in z.split(256)])


@torch.no_grad()
def synthesise(G: nn.Module, ws: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
    """Images in [-1, 1] of w+ latents, in batches."""
    device = next(G.parameters()).device
    return torch.cat([G.synthesis(chunk.to(device)).float().cpu() for chunk in ws.split(batch_size)])


def truncate_ws(G: nn.Module, ws: torch.Tensor, truncation: float) -> torch.Tensor:
    """w+ pulled toward the mean w (for latents read from a file)."""
    w_avg = G.w_avg.detach().cpu().to(ws.dtype)
    return w_avg + truncation * (ws - w_avg)


def default_cutoff(G: nn.Module) -> int:
    """Layers that count as coarse: those up to 8 px (StyleGAN's coarse styles), at least one, leaving one fine."""
    return max(1, min(4, G.num_ws - 1))


def mixing_grid(G: nn.Module, row_ws: torch.Tensor, col_ws: torch.Tensor, cutoff: int) -> tuple[torch.Tensor, int]:
    """The style-mixing figure: a blank corner, the column sources along the top, the row sources down the left,
    and in cell (r, c) the layers before `cutoff` (coarse: pose, layout) from row r, the rest (fine: colour,
    texture) from column c. Returns (images, per row)."""
    if not 1 <= cutoff < G.num_ws:
        raise GanforgeError(f"--cutoff must be between 1 and {G.num_ws - 1} (this generator has {G.num_ws} style "
                            f"inputs), got {cutoff}")
    rows, cols = len(row_ws), len(col_ws)
    mixed = torch.cat([row_ws.repeat_interleave(cols, 0)[:, :cutoff], col_ws.repeat(rows, 1, 1)[:, cutoff:]], 1)
    sources = synthesise(G, torch.cat([row_ws, col_ws]))
    cells = synthesise(G, mixed).view(rows, cols, *sources.shape[1:])
    blank = torch.full_like(sources[:1], -1.0)
    lines = [torch.cat([blank, sources[rows:]])]
    lines += [torch.cat([sources[r:r + 1], cells[r]]) for r in range(rows)]
    return torch.cat(lines), cols + 1


def load_latents(path: str | os.PathLike, G: nn.Module, latent_dim: int) -> torch.Tensor:
    """A latents .npy checked before use: w+ (N, num_ws, w_dim) for a style-based G (w (N, w_dim) is repeated
    per layer), z (N, latent_dim) otherwise; floats, finite, at most MAX_LATENTS. One-line errors name the file."""
    path = Path(path)
    styled = is_style_based(G)
    expected = f"(N, {G.num_ws}, {G.w_dim}) or (N, {G.w_dim})" if styled else f"(N, {latent_dim})"
    try:
        if path.stat().st_size > MAX_LATENT_BYTES:
            raise GanforgeError(f"{path}: too large for a latents file ({path.stat().st_size / 2**20:,.0f} MiB)")
        array = np.load(path, allow_pickle=False)
    except GanforgeError:
        raise
    except (OSError, ValueError, EOFError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err).splitlines()[0][:120]
        raise GanforgeError(f"{path}: cannot read latents ({reason}); give a .npy that `ganforge project` wrote") \
            from None
    if not isinstance(array, np.ndarray) or array.dtype.kind not in FLOAT_KINDS:
        raise GanforgeError(f"{path}: latents must be floats, got {getattr(array, 'dtype', type(array))}")
    shape = array.shape
    fits = (styled and ((array.ndim == 3 and shape[1:] == (G.num_ws, G.w_dim)) or
                        (array.ndim == 2 and shape[1] == G.w_dim))) or \
        (not styled and array.ndim == 2 and shape[1] == latent_dim)
    if not fits or shape[0] < 1:
        raise GanforgeError(f"{path}: latents of shape {shape} do not fit this run; it takes {expected}")
    if shape[0] > MAX_LATENTS:
        raise GanforgeError(f"{path}: {shape[0]:,} latents; at most {MAX_LATENTS:,}")
    if not np.isfinite(array).all():
        raise GanforgeError(f"{path}: latents hold NaN or infinite values")
    latents = torch.from_numpy(array.astype(np.float32))
    return G.ws(latents) if styled and latents.ndim == 2 else latents


def style_walk_frames(G: nn.Module, keys: torch.Tensor, frames_per_leg: int) -> list[torch.Tensor]:
    """keys (points, walks, num_ws, w_dim) in w+: straight lines from each point to the next (looping back), the
    images of every frame (w space is where a straight line stays among plausible styles)."""
    from ganforge.images import grid

    shown = []
    points, walks = keys.shape[:2]
    for p in range(points):
        a, b = keys[p], keys[(p + 1) % points]
        for f in range(frames_per_leg):
            shown.append(grid(synthesise(G, torch.lerp(a, b, f / frames_per_leg)), nrow=walks))
    return shown


def mix_images(loaded: object, rows: int, cols: int, seed: int, cutoff: int | None = None, truncation: float = 1.0,
               latents_file: str | os.PathLike | None = None) -> tuple[torch.Tensor, int]:
    """The style-mixing grid of a loaded style-based generator (inference/sampling.LoadedGenerator): row sources from
    seeds seed.. (or a latents file), column sources from the seeds after them. Returns (images, per row)."""
    G = loaded.G  # type: ignore[attr-defined]
    if not is_style_based(G):
        raise GanforgeError(f"{loaded.source}: style mixing needs a style-based generator (--model stylegan); "  # type: ignore[attr-defined]
                            "this run has none")
    latent_dim = loaded.latent_dim  # type: ignore[attr-defined]

    def seeded(first: int, count: int) -> torch.Tensor:
        seeds = range(first, first + count)
        z = [torch.randn(1, latent_dim, generator=torch.Generator().manual_seed(s)) for s in seeds]
        return mapped(G, torch.cat(z), truncation)  # seed s draws what `ganforge sample --seed s -n 1` draws

    if latents_file is not None:
        row_ws = truncate_ws(G, load_latents(latents_file, G, latent_dim), truncation)
        rows = len(row_ws)
    else:
        row_ws = seeded(seed, rows)
    return mixing_grid(G, row_ws, seeded(seed + rows, cols), default_cutoff(G) if cutoff is None else cutoff)
