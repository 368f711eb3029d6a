"""What the web page does with a run, as plain functions (no web framework): easy to test, easy to reuse.

Requests name a run only by the name it was given at start-up; every file read is a fixed name
inside that run's directory, so no request can point the server at any other path.
"""

from __future__ import annotations

import os
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ganforge.checkpoint import LATEST, load_checkpoint
from ganforge.errors import GanforgeError
from ganforge.images import from_uint8, grid, to_uint8
from ganforge.models import create_model
from ganforge.sampling import LoadedGenerator, generate, latents, load_generator, save_gif, slerp, truncate

MAX_COUNT = 64
MAX_FRAMES = 60
MAX_SEED = 2**31 - 1


@dataclass
class ServedRun:
    """One run directory; networks are loaded on first use and reloaded when latest.pt changes."""

    name: str
    path: Path
    _cache: dict = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def checkpoint(self) -> Path:
        return self.path / "checkpoints" / LATEST

    def _cached(self, key: str, load):
        try:
            version = self.checkpoint.stat().st_mtime_ns
        except OSError:
            raise GanforgeError(f"run {self.name}: no checkpoint yet (the first one is written at "
                                "--checkpoint-every or when training stops)") from None
        with self._lock:
            if self._cache.get(key, (None,))[0] != version:
                self._cache[key] = (version, load())
            return self._cache[key][1]

    def generator(self, use_ema: bool = True) -> LoadedGenerator:
        return self._cached(f"G-{use_ema}", lambda: load_generator(self.checkpoint, use_ema=use_ema))

    def discriminator(self) -> tuple[nn.Module, int, int]:
        """(D, resolution, channels)."""
        return self._cached("D", lambda: _load_discriminator(self.checkpoint))


def open_runs(paths: list[str | os.PathLike]) -> dict[str, ServedRun]:
    """Name -> run for each directory given; names are folder names, made unique."""
    runs: dict[str, ServedRun] = {}
    for raw in paths:
        path = Path(raw).expanduser().resolve()
        if not (path / "config.json").is_file():
            raise GanforgeError(f"{raw}: not a run directory (no config.json); pass the folder given to --out")
        name, n = path.name, 2
        while name in runs:
            name, n = f"{path.name}-{n}", n + 1
        runs[name] = ServedRun(name, path)
    if not runs:
        raise GanforgeError("give at least one run directory")
    return runs


def pick(runs: dict[str, ServedRun], name: str) -> ServedRun:
    if name not in runs:
        raise GanforgeError(f"unknown run {str(name)[:60]!r}; choose one of: {', '.join(runs)}")
    return runs[name]


def _whole(value: float, label: str, low: int, high: int) -> int:
    if value is None or not float(value).is_integer() or not low <= value <= high:
        raise GanforgeError(f"{label} must be a whole number from {low} to {high}, got {value}")
    return int(value)


def sample_grid(run: ServedRun, seed: float, count: float, truncation: float,
                use_ema: bool = True) -> tuple[np.ndarray, LoadedGenerator]:
    """A uint8 (H, W, C) grid of `count` samples; the same inputs always give the same picture."""
    seed = _whole(seed, "seed", 0, MAX_SEED)
    count = _whole(count, "number of images", 1, MAX_COUNT)
    loaded = run.generator(use_ema)
    z = truncate(latents(count, loaded.latent_dim, seed), float(truncation))
    return grid(generate(loaded.G, z)), loaded


def interpolation_gif(run: ServedRun, seed_a: float, seed_b: float, frames: float, truncation: float,
                      use_ema: bool, out_dir: Path, fps: int = 12) -> Path:
    """An animated GIF walking from seed A's image to seed B's and back (slerp in latent space)."""
    seed_a, seed_b = _whole(seed_a, "seed A", 0, MAX_SEED), _whole(seed_b, "seed B", 0, MAX_SEED)
    frames = _whole(frames, "frames", 2, MAX_FRAMES)
    loaded = run.generator(use_ema)
    a = truncate(latents(1, loaded.latent_dim, seed_a), float(truncation))
    b = truncate(latents(1, loaded.latent_dim, seed_b), float(truncation))
    steps = torch.linspace(0, 1, frames).tolist()
    z = torch.cat([slerp(a, b, t) for t in steps + steps[-2:0:-1]])  # there and back: the GIF loops smoothly
    pictures = list(to_uint8(generate(loaded.G, z)))
    handle, name = tempfile.mkstemp(suffix=".gif", dir=out_dir)
    os.close(handle)
    return save_gif(pictures, name, fps)


def judge(run: ServedRun, image_rgb: np.ndarray) -> tuple[np.ndarray, float]:
    """The image as the discriminator sees it (resized, channels matched) and its probability of "real"."""
    from PIL import Image

    D, resolution, channels = run.discriminator()
    picture = Image.fromarray(image_rgb).convert("L" if channels == 1 else "RGB")
    picture = picture.resize((resolution, resolution), Image.Resampling.LANCZOS)
    array = np.array(picture).reshape(resolution, resolution, channels)
    with torch.no_grad():
        logit = D(from_uint8(array[None]))
    return array, float(torch.sigmoid(logit.float()).item())


def _load_discriminator(path: Path) -> tuple[nn.Module, int, int]:
    state = load_checkpoint(path)
    try:
        _, D = create_model(state["model"], **state["model_args"])
        D.load_state_dict(state["D"])
    except (KeyError, RuntimeError, TypeError) as err:
        raise GanforgeError(f"{path}: checkpoint does not match its model ({str(err).splitlines()[0][:120]})") from None
    return D.eval(), int(state["model_args"]["resolution"]), int(state["model_args"]["channels"])
