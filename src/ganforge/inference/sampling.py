"""Using a trained generator: load it from a checkpoint, sample, interpolate."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ganforge.checkpoint import load_checkpoint
from ganforge.errors import GanforgeError
from ganforge.images import grid, save_png, to_uint8
from ganforge.inference.styles import TruncatedGenerator, is_style_based, mapped, style_walk_frames, truncate_ws
from ganforge.models import create_model
from ganforge.models.dcgan import with_category


@dataclass
class LoadedGenerator:
    G: nn.Module
    latent_dim: int
    step: int
    source: Path
    ema: bool = False  # True when these are the EMA weights
    class_names: list[str] = field(default_factory=list)  # non-empty for class-conditional generators
    category_prior: list[float] | None = None  # InfoGAN: the data's share of each latent category, if recorded

    @property
    def conditional(self) -> bool:
        return bool(self.class_names)

    @property
    def latent_classes(self) -> int:
        """An unconditional InfoGAN's number of latent categories (0: none)."""
        return 0 if self.conditional else int(getattr(self.G, "latent_classes", 0))

    def category_index(self, number: str | int) -> int:
        """A latent category given by its number (categories have no names: no labels were used)."""
        text = str(number).strip()
        if not self.latent_classes:
            raise GanforgeError(f"--category: {self.source} has no latent categories (they come from training "
                                "with --latent-classes K)")
        if not (text.isdigit() and int(text) < self.latent_classes):
            raise GanforgeError(f"--category {text}: no such category; this run has categories 0 to "
                                f"{self.latent_classes - 1}")
        return int(text)


def load_generator(path: str | os.PathLike, use_ema: bool = True, device: str = "cpu") -> LoadedGenerator:
    """Rebuild a noise-to-image G from the arguments stored in the checkpoint; the EMA copy when there is one."""
    state = load_checkpoint(path)
    if state.get("recipe") in ("pix2pix", "unpaired"):
        raise GanforgeError(f"{path}: a {state.get('model')} run turns images into images and has no noise to sample "
                            "from; use: ganforge translate RUN INPUT... -o OUT")
    return generator_from_state(state, path, use_ema, device)


def generator_from_state(state: dict, path: str | os.PathLike, use_ema: bool = True,
                         device: str = "cpu") -> LoadedGenerator:
    """G from an already loaded checkpoint (`path` only names it in errors)."""
    try:
        G, _ = create_model(state["model"], **state["model_args"])
        ema = use_ema and state.get("G_ema") is not None
        G.load_state_dict(check_dtypes(G, state["G_ema"] if ema else state["G"]))
        loaded = LoadedGenerator(G, int(state["model_args"].get("latent_dim", 0)), int(state["step"]), Path(path),
                                 ema, [str(n) for n in state.get("class_names") or []], state.get("category_prior"))
    except (KeyError, RuntimeError, TypeError, ValueError, AttributeError, OverflowError) as err:
        raise GanforgeError(f"{path}: checkpoint does not match its model ({mismatch(err)})") from None
    G.to(device).eval()
    return loaded


def check_dtypes(model: nn.Module, weights: dict) -> dict:
    """weights, if each tensor's dtype can stand for the model's (load_state_dict would cast complex, bool or
    integer values into float weights without a word)."""
    expected = model.state_dict()
    for key, value in weights.items():
        if key in expected and isinstance(value, torch.Tensor) and expected[key].is_floating_point() \
                and not value.is_floating_point():
            raise TypeError(f"{key} holds {str(value.dtype).removeprefix('torch.')} values, not floats")
    return weights


def mismatch(err: Exception) -> str:
    """The first line of why a checkpoint's content does not fit its model: one short line."""
    text = str(err).strip()
    return text.splitlines()[0][:120] if text else type(err).__name__


def class_index(name_or_index: str, class_names: list[str]) -> int:
    """A class given by name, or by index when no class has that name."""
    if name_or_index in class_names:
        return class_names.index(name_or_index)
    if name_or_index.strip().isdigit() and int(name_or_index) < len(class_names):
        return int(name_or_index)
    shown = ", ".join(f"{i}={n}" for i, n in enumerate(class_names))
    raise GanforgeError(f"--class {name_or_index}: no such class; this model has: {shown}")


def class_rows(classes: list[int], per_class: int) -> torch.Tensor:
    """Labels for `per_class` samples of each class, class by class (one grid row each)."""
    return torch.tensor(classes).repeat_interleave(per_class)


def latents(n: int, latent_dim: int, seed: int) -> torch.Tensor:
    return torch.randn(n, latent_dim, generator=torch.Generator().manual_seed(seed))


def draw_categories(prior: list[float], n: int, seed: int) -> torch.Tensor:
    """n InfoGAN categories drawn in the prior's proportions, the same for the same seed."""
    weights = torch.tensor(prior, dtype=torch.float64)
    return torch.multinomial(weights, n, replacement=True, generator=torch.Generator().manual_seed(seed))


def with_prior_categories(z: torch.Tensor, loaded: LoadedGenerator, seed: int) -> torch.Tensor:
    """An InfoGAN's latents with categories drawn in the data's proportions (from a stream of their own, seed + 1)
    when the checkpoint recorded them (recipes/infogan.py); otherwise z unchanged (uniform, as in training)."""
    if not (loaded.latent_classes and loaded.category_prior):
        return z
    return with_category(z, draw_categories(loaded.category_prior, len(z), seed + 1), loaded.latent_classes)


def truncate(z: torch.Tensor, truncation: float, center: torch.Tensor | None = None) -> torch.Tensor:
    """The truncation trick: pull latents toward the prior's mean (0, or `center`) by a factor in [0, 1].

    1 leaves z alone (full variety); smaller values trade variety for typical, cleaner-looking samples.
    """
    check_truncation(truncation)
    center = torch.zeros_like(z) if center is None else center.to(z)
    return center + truncation * (z - center)


def check_truncation(truncation: float) -> None:
    if not 0 <= truncation <= 1:
        raise GanforgeError(f"--truncation must be between 0 and 1 (1 = off), got {truncation}")


@torch.no_grad()
def generate(G: nn.Module, z: torch.Tensor, batch_size: int = 256, labels: torch.Tensor | None = None) -> torch.Tensor:
    """Images in [-1, 1], (N, C, H, W), in batches so any N fits in memory; labels for conditional G."""
    device = next(G.parameters()).device
    if labels is None:
        return torch.cat([G(chunk.to(device)).float().cpu() for chunk in z.split(batch_size)])
    return torch.cat([G(chunk.to(device), y.to(device)).float().cpu()
                      for chunk, y in zip(z.split(batch_size), labels.split(batch_size))])


def check_picks(loaded: LoadedGenerator, classes: list | None, categories: list | None) -> None:
    """Refuse a labelled class asked of a model without classes, and a latent category of one without categories:
    an InfoGAN's category 7 is not the digit 7, so `--class 7` there points to `--category` instead."""
    if categories and loaded.conditional:
        raise GanforgeError(f"--category: {loaded.source} is class-conditional and has labelled classes; "
                            "pick one with --class NAME|INDEX")
    if classes and not loaded.conditional:
        if loaded.latent_classes:
            raise GanforgeError(f"--class: {loaded.source} has numbered latent categories (InfoGAN), not labelled "
                                f"classes; pick one with --category K (0 to {loaded.latent_classes - 1})")
        raise GanforgeError(f"--class: {loaded.source} is not a class-conditional model")


def sample_images(loaded: LoadedGenerator, num: int, seed: int = 0, classes: list[str] | None = None,
                  truncation: float = 1.0,
                  categories: list[str | int] | None = None) -> tuple[torch.Tensor, int | None]:
    """`num` samples (`num` of each class or category named), and the grid's row length: one row per class or
    category when some are named or the model is conditional.

    `classes` are the labelled classes of a class-conditional model (names or indices). `categories` are the
    numbered latent categories of an InfoGAN (--latent-classes): category 7 is whatever G made of it, not a class
    7, so the two are never mixed up. Without either, an InfoGAN's categories are drawn in the data's proportions
    when the checkpoint recorded them (recipes/infogan.py)."""
    check_picks(loaded, classes, categories)
    if not loaded.conditional:
        picked = [loaded.category_index(c) for c in categories or []]
        if is_style_based(loaded.G) and not picked:  # truncation around the tracked mean w, not z's origin
            check_truncation(truncation)
            return generate(TruncatedGenerator(loaded.G, truncation), latents(num, loaded.latent_dim, seed)), None
        z = truncate(latents(num * max(1, len(picked)), loaded.latent_dim, seed), truncation)
        if not picked:
            return generate(loaded.G, with_prior_categories(z, loaded, seed)), None
        return generate(loaded.G, with_category(z, class_rows(picked, num), loaded.latent_classes)), num
    if classes:
        labels = class_rows([class_index(c, loaded.class_names) for c in classes], num)
        per_row = num
    else:  # every class in turn, `num` in all
        per_row = -(-num // len(loaded.class_names))
        labels = class_rows(list(range(len(loaded.class_names))), per_row)[:num]
    z = truncate(latents(len(labels), loaded.latent_dim, seed), truncation)
    return generate(loaded.G, z, labels=labels), per_row


def slerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation: stays on the shell where Gaussian latents live, unlike a straight line."""
    a_n, b_n = a / a.norm(dim=-1, keepdim=True), b / b.norm(dim=-1, keepdim=True)
    omega = torch.acos((a_n * b_n).sum(-1, keepdim=True).clamp(-1 + 1e-7, 1 - 1e-7))
    so = torch.sin(omega)
    return (torch.sin((1 - t) * omega) / so) * a + (torch.sin(t * omega) / so) * b


def write_samples(images: torch.Tensor, out: str | os.PathLike, nrow: int | None = None) -> Path:
    """.png -> one grid (`nrow` per row); .npy -> uint8 (N, H, W, C); anything else -> a folder of PNGs.

    2D points (N, 2) -> .npy float32 (N, 2), or .png a scatter plot."""
    out = Path(out)
    if images.ndim == 2:
        return write_points(images, out)
    arr = to_uint8(images)
    if out.suffix.lower() == ".png":
        save_png(out, grid(images, nrow))
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
        save_points(out, points)
    else:
        raise GanforgeError(f"-o {out}: 2D samples are written as .npy (float32 (N, 2)) or .png (scatter plot)")
    return out


def save_points(path: Path, points: torch.Tensor) -> None:
    """A plain scatter plot of generated points (`ganforge sample RUN -o pts.png`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = points.detach().float().cpu()
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.scatter(points[:, 0], points[:, 1], s=2, c="tab:blue", linewidths=0)
    ax.set_aspect("equal")
    ax.set_title(f"{len(points)} generated points", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def interpolation_frames(loaded: LoadedGenerator, walks: int, points: int, frames_per_leg: int,
                         seed: int, truncation: float = 1.0, given: torch.Tensor | None = None) -> list[np.ndarray]:
    """`walks` parallel latent walks through `points` random points (looping back), one grid per frame.

    For a conditional G walk w keeps class w % classes; an InfoGAN's points take their categories in the data's
    proportions, as `ganforge sample` does. A style-based G walks in w space (truncated around the mean w).
    `given` (latents from a file, inference/styles.py): one walk through them, then random points up to `points`."""
    check_truncation(truncation)
    G = loaded.G
    if given is not None:
        walks, points = 1, max(points, len(given))
    keys = with_prior_categories(latents(walks * points, loaded.latent_dim, seed), loaded, seed)
    if is_style_based(G):
        ws = mapped(G, keys, truncation)
        if given is not None:
            ws = torch.cat([truncate_ws(G, given, truncation), ws[len(given):]])
        return style_walk_frames(G, ws.view(points, walks, *ws.shape[1:]), frames_per_leg)
    keys = truncate(keys, truncation)
    if given is not None:
        keys = torch.cat([truncate(given, truncation), keys[len(given):]])
    keys = keys.view(points, walks, loaded.latent_dim)
    num_classes = len(loaded.class_names)
    labels = torch.arange(walks) % num_classes if num_classes else None
    frames = []
    for p in range(points):
        a, b = keys[p], keys[(p + 1) % points]
        for f in range(frames_per_leg):
            images = generate(G, slerp(a, b, f / frames_per_leg), labels=labels)
            frames.append(grid(images, nrow=walks))
    return frames
