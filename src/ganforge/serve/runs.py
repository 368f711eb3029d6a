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
from ganforge.config.train_config import saved_settings
from ganforge.errors import GanforgeError
from ganforge.images import from_uint8, grid, save_gif, to_channels, to_uint8
from ganforge.inference.sampling import (
    LoadedGenerator,
    check_dtypes,
    check_picks,
    check_truncation,
    class_index,
    generate,
    latents,
    load_generator,
    mismatch,
    sample_images,
    slerp,
    truncate,
    with_prior_categories,
)
from ganforge.inference.styles import is_style_based, mapped, synthesise
from ganforge.inference.translate import LoadedTranslator, load_translator
from ganforge.models import create_model
from ganforge.models.dcgan import with_category

MAX_COUNT = 64
MAX_FRAMES = 60
MAX_SEED = 2**31 - 1
ALL_CLASSES = "every class (one row each)"
ALL_CATEGORIES = "every category (in the data's proportions)"
EVERY = (None, "", ALL_CLASSES, ALL_CATEGORIES)  # the picker's "no particular one", whichever run it was built for
# what a run's generator takes: noise, noise + class, an image (pix2pix: one way; unpaired: cyclegan, both ways)
KINDS = ("unconditional", "conditional", "pix2pix", "unpaired")
TRANSLATING = ("pix2pix", "unpaired")


@dataclass
class ServedRun:
    """One run directory; networks are loaded on first use and reloaded when latest.pt changes."""

    name: str
    path: Path
    kind: str = "unconditional"  # one of KINDS; decides which tabs of the page apply
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

    def translator(self, direction: str = "AtoB") -> LoadedTranslator:
        """The run's generator for `direction` (a pix2pix run has only AtoB)."""
        direction = direction if self.kind == "unpaired" else "AtoB"
        return self._cached(f"translator-{direction}", lambda: load_translator(self.checkpoint, direction=direction))

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
        runs[name] = ServedRun(name, path, run_kind(path))
    if not runs:
        raise GanforgeError("give at least one run directory")
    return runs


def run_kind(path: Path) -> str:
    """From config.json, so it is known before the first checkpoint exists."""
    try:
        config = saved_settings((path / "config.json").read_text(), str(path / "config.json"))  # flat or sections
    except (OSError, ValueError, GanforgeError) as err:
        raise GanforgeError(f"{path / 'config.json'}: unreadable ({str(err)[:80]})") from None
    if config.get("model") == "pix2pix":
        return "pix2pix"
    if config.get("model") == "cyclegan":
        return "unpaired"
    return "conditional" if config.get("conditional") else "unconditional"


def class_choices(run: ServedRun) -> list[str]:
    """The picker's entries: a conditional run's classes, or an InfoGAN's numbered latent categories (which are
    not classes: category 7 is whatever G made of it); [] for other runs, or before the first checkpoint."""
    if run.kind not in ("conditional", "unconditional"):
        return []
    try:
        loaded = run.generator()
    except GanforgeError:
        return [ALL_CLASSES] if run.kind == "conditional" else []
    if run.kind == "conditional":
        return [ALL_CLASSES, *loaded.class_names]
    return [ALL_CATEGORIES, *map(str, range(loaded.latent_classes))] if loaded.latent_classes else []


def picker_label(run: ServedRun) -> str:
    """What the picker picks: a labelled class, or an InfoGAN's latent category."""
    return "Class" if run.kind == "conditional" else "Latent category (InfoGAN: numbered, not a labelled class)"


def _category(loaded: LoadedGenerator, category: str | int | None) -> int | None:
    """The InfoGAN category picked (None: every category, drawn in the data's proportions)."""
    if category in EVERY:
        return None
    check_picks(loaded, None, [category])
    return loaded.category_index(category)


def _labels(loaded: LoadedGenerator, class_name: str | None) -> list[int] | None:
    """Class indices to draw: None (unconditional), the one chosen, or every class."""
    if class_name in EVERY:
        return list(range(len(loaded.class_names))) if loaded.conditional else None
    check_picks(loaded, [class_name], None)
    return [class_index(str(class_name), loaded.class_names)]


def pick(runs: dict[str, ServedRun], name: str) -> ServedRun:
    if name not in runs:
        raise GanforgeError(f"unknown run {str(name)[:60]!r}; choose one of: {', '.join(runs)}")
    return runs[name]


def whole_number(value: float, label: str, low: int, high: int) -> int:
    if value is None or not float(value).is_integer() or not low <= value <= high:
        raise GanforgeError(f"{label} must be a whole number from {low} to {high}, got {value}")
    return int(value)


def sample_grid(run: ServedRun, seed: float, count: float, truncation: float, use_ema: bool = True,
                class_name: str | None = None, category: str | int | None = None) -> tuple[np.ndarray, LoadedGenerator]:
    """A uint8 (H, W, C) grid of `count` samples; the same inputs always give the same picture.

    Conditional runs: `count` samples of the class named, or (ALL_CLASSES / None) a row for every class
    with ceil(count / classes) samples each. InfoGAN runs: `count` samples of the latent category given."""
    seed = whole_number(seed, "seed", 0, MAX_SEED)
    count = whole_number(count, "number of images", 1, MAX_COUNT)
    loaded = run.generator(use_ema)
    picked = _category(loaded, category)
    if picked is not None:
        images, _ = sample_images(loaded, count, seed, truncation=float(truncation), categories=[picked])
        return grid(images), loaded
    classes = _labels(loaded, class_name)
    if classes is None or len(classes) == 1:
        chosen = None if classes is None else [loaded.class_names[classes[0]]]
        images, _ = sample_images(loaded, count, seed, chosen, float(truncation))
        return grid(images), loaded
    per_class = -(-count // len(classes))
    images, per_row = sample_images(loaded, per_class, seed, loaded.class_names, float(truncation))
    return grid(images, per_row), loaded


def interpolation_gif(run: ServedRun, seed_a: float, seed_b: float, frames: float, truncation: float,
                      use_ema: bool, out_dir: Path, fps: int = 12, class_name: str | None = None,
                      category: str | int | None = None) -> Path:
    """An animated GIF walking from seed A's image to seed B's and back (slerp in latent space).

    Conditional runs: the class chosen, or every class side by side (one latent walk, one image per class).
    InfoGAN runs: the walk stays in the latent category given."""
    seed_a, seed_b = whole_number(seed_a, "seed A", 0, MAX_SEED), whole_number(seed_b, "seed B", 0, MAX_SEED)
    frames = whole_number(frames, "frames", 2, MAX_FRAMES)
    loaded = run.generator(use_ema)
    if is_style_based(loaded.G):  # a straight line between the two seeds' w, truncated around the mean w
        check_truncation(float(truncation))
        ws = mapped(loaded.G, torch.cat([latents(1, loaded.latent_dim, s) for s in (seed_a, seed_b)]), truncation)
        steps = torch.linspace(0, 1, frames).tolist()
        walk = torch.stack([torch.lerp(ws[0], ws[1], t) for t in steps + steps[-2:0:-1]])
        return _write_gif(list(to_uint8(synthesise(loaded.G, walk))), out_dir, fps)
    a = with_prior_categories(truncate(latents(1, loaded.latent_dim, seed_a), float(truncation)), loaded, seed_a)
    b = with_prior_categories(truncate(latents(1, loaded.latent_dim, seed_b), float(truncation)), loaded, seed_b)
    steps = torch.linspace(0, 1, frames).tolist()
    z = torch.cat([slerp(a, b, t) for t in steps + steps[-2:0:-1]])  # there and back: the GIF loops smoothly
    picked = _category(loaded, category)
    if picked is not None:  # the walk stays in the chosen latent category
        z = with_category(z, torch.full((len(z),), picked), loaded.latent_classes)
    classes = _labels(loaded, class_name)
    if classes is None:
        pictures = list(to_uint8(generate(loaded.G, z)))
    elif len(classes) == 1:
        pictures = list(to_uint8(generate(loaded.G, z, labels=torch.tensor(classes * len(z)))))
    else:  # each frame: the same latent for every class, in one row
        labels = torch.tensor(classes).repeat(len(z))
        images = generate(loaded.G, z.repeat_interleave(len(classes), 0), labels=labels)
        pictures = [grid(frame, nrow=len(classes)) for frame in images.split(len(classes))]
    return _write_gif(pictures, out_dir, fps)


def _write_gif(pictures: list[np.ndarray], out_dir: Path, fps: int) -> Path:
    handle, name = tempfile.mkstemp(suffix=".gif", dir=out_dir)
    os.close(handle)
    return save_gif(pictures, name, fps)


def judge(run: ServedRun, image_rgb: np.ndarray) -> tuple[np.ndarray, float]:
    """The image (uint8 (H, W, 3), or 4 with transparency) as the discriminator sees it (resized, channels matched
    as training matched them: images.to_channels) and its probability of "real"."""
    array, probabilities = _judged(run, image_rgb, None)
    return array, float(probabilities[0])


def judge_by_class(run: ServedRun, image_rgb: np.ndarray) -> tuple[np.ndarray, list[tuple[str, float]]]:
    """For a conditional run: the image as D sees it and D's probability of "a real image of class c" for
    every class, most likely first (a projection D judges image and class together)."""
    names = run.generator().class_names
    array, probabilities = _judged(run, image_rgb, torch.arange(len(names)))
    ranked = sorted(zip(names, probabilities.tolist()), key=lambda pair: -pair[1])
    return array, ranked


def _judged(run: ServedRun, image_rgb: np.ndarray, labels: torch.Tensor | None) -> tuple[np.ndarray, torch.Tensor]:
    from PIL import Image

    D, resolution, channels = run.discriminator()
    picture = to_channels(Image.fromarray(image_rgb), channels)  # transparency as training handled it
    picture = picture.resize((resolution, resolution), Image.Resampling.LANCZOS)
    array = np.array(picture).reshape(resolution, resolution, channels)
    x = from_uint8(array[None])
    with torch.no_grad():
        logits = D(x) if labels is None else D(x.expand(len(labels), -1, -1, -1), labels)
    return array, torch.sigmoid(logits.float().flatten())


def _load_discriminator(path: Path) -> tuple[nn.Module, int, int]:
    state = load_checkpoint(path)
    try:
        _, D = create_model(state["model"], **state["model_args"])
        D.load_state_dict(check_dtypes(D, state["D"]))
        return D.eval(), int(state["model_args"]["resolution"]), int(state["model_args"]["channels"])
    except (KeyError, RuntimeError, TypeError, ValueError, AttributeError, OverflowError) as err:
        raise GanforgeError(f"{path}: checkpoint does not match its model ({mismatch(err)})") from None
