"""2D point data: the classic mode-collapse benchmarks and your own (N, 2) arrays.

`ring`: 8 Gaussians on the unit circle, std 0.01. `grid`: 25 Gaussians at {-4,-2,0,2,4}^2, std 0.05.
Both know their mode centres and std, so generated points can be scored (metrics/modes.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from tokenize import TokenError

import numpy as np
import torch

from ganforge.errors import GanforgeError
from ganforge.registry import Registry

POINT_DATASETS: Registry = Registry("2D point data set")
BUILTIN_COUNT = 100_000  # points drawn once per built-in data set; plenty for an effectively infinite stream


@dataclass
class PointDataset:
    points: torch.Tensor  # float32 (N, 2)
    name: str = ""
    modes: torch.Tensor | None = None  # (K, 2) mode centres, when known
    std: float | None = None  # each mode's standard deviation, when known

    def __post_init__(self) -> None:
        if self.points.dtype != torch.float32 or self.points.ndim != 2 or self.points.shape[1] != 2:
            raise ValueError(f"points must be float32 (N, 2), got {self.points.dtype} {tuple(self.points.shape)}")

    def __len__(self) -> int:
        return self.points.shape[0]


def ring_modes(count: int = 8, radius: float = 1.0) -> torch.Tensor:
    angles = torch.arange(count, dtype=torch.float64) * (2 * math.pi / count)
    return (torch.stack([torch.cos(angles), torch.sin(angles)], 1) * radius).float()


def grid_modes(side: int = 5, spacing: float = 2.0) -> torch.Tensor:
    axis = (torch.arange(side, dtype=torch.float32) - (side - 1) / 2) * spacing
    return torch.cartesian_prod(axis, axis)


def mixture(modes: torch.Tensor, std: float, count: int, seed: int) -> torch.Tensor:
    """`count` points from the equal-weight Gaussian mixture on `modes`."""
    g = torch.Generator().manual_seed(seed)
    which = torch.randint(0, len(modes), (count,), generator=g)
    return modes[which] + std * torch.randn(count, 2, generator=g)


@POINT_DATASETS.register("ring")
def ring(count: int = BUILTIN_COUNT, seed: int = 0) -> PointDataset:
    modes, std = ring_modes(), 0.01
    return PointDataset(mixture(modes, std, count, seed), "ring", modes, std)


@POINT_DATASETS.register("grid")
def grid(count: int = BUILTIN_COUNT, seed: int = 0) -> PointDataset:
    modes, std = grid_modes(), 0.05
    return PointDataset(mixture(modes, std, count, seed), "grid", modes, std)


def is_point_data(source: str) -> bool:
    """A built-in 2D data set name, or a .npy file (which must then hold (N, 2) points)."""
    return source in POINT_DATASETS or Path(source).suffix.lower() == ".npy"


def load_points(source: str) -> PointDataset:
    """A built-in 2D data set by name, or an (N, 2) float array from a .npy file."""
    if source in POINT_DATASETS:
        return POINT_DATASETS.get(source)()
    path = Path(source).expanduser()
    if not path.is_file():
        raise GanforgeError(f"--data {source}: no such file")
    try:  # memory-mapped first: a header promising more data than the file holds fails here, allocating nothing
        with np.errstate(over="ignore"):  # a huge shape overflows numpy's size arithmetic, then fails cleanly
            array = np.array(np.load(path, mmap_mode="r", allow_pickle=False))
    except (OSError, ValueError, EOFError, SyntaxError, TokenError, MemoryError) as err:  # header parse errors too
        reason = str(err).splitlines()[0][:120] if str(err).strip() else type(err).__name__
        raise GanforgeError(f"--data {source}: not a readable .npy array ({reason})") from None
    numeric = np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)
    if array.ndim != 2 or array.shape[1] != 2 or not numeric:
        raise GanforgeError(f"--data {source}: expected an (N, 2) array of 2D points, got {array.dtype} "
                            f"{tuple(array.shape)}")
    if len(array) < 2:
        raise GanforgeError(f"--data {source}: needs at least 2 points, got {len(array)}")
    with np.errstate(over="ignore"):
        points = array.astype(np.float32)  # values beyond float32 become inf, and are refused with the NaNs
    if not np.isfinite(points).all():
        row = int(np.argwhere(~np.isfinite(points))[0, 0])
        raise GanforgeError(f"--data {source}: holds NaN or infinite values, or values too large for float32 "
                            f"(first in row {row})")
    return PointDataset(torch.from_numpy(points), path.name)
