"""Paired images for image-to-image translation (pix2pix), in the formats people have.

* side-by-side: every image holds A on the left half and B on the right (the published pix2pix sets);
* two folders: `A/` and `B/` with matching file names (extensions may differ).

A folder with `train/` and `val/` or `test/` sub-folders (each in one of those formats) gives the
held-out split too. Pairs that cannot be used are skipped with one warning line naming them (missing
partner, unreadable file, sides of different sizes); no usable pair at all is an error.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ganforge.data.dataset import ImageDataset
from ganforge.data.folder import BadImage, decode_image, find_images, resize_center_crop
from ganforge.errors import GanforgeError

Pair = tuple[str, np.ndarray, np.ndarray]  # name, A side, B side: uint8 (H, W, C) each

DIRECTIONS = ("AtoB", "BtoA")
HELDOUT_SPLITS = ("val", "test")


@dataclass
class PairedDataset(ImageDataset):
    """Pairs stacked along channels: images are uint8 (N, H, W, C_in + C_out), input first.

    Stacking means every augmentation (flip, crop) is applied to both sides identically for free."""

    input_channels: int = 0
    names: list[str] = field(default_factory=list)

    @property
    def inputs(self) -> torch.Tensor:
        return self.images[..., : self.input_channels]

    @property
    def targets(self) -> torch.Tensor:
        return self.images[..., self.input_channels :]

    @property
    def target_channels(self) -> int:
        return self.images.shape[3] - self.input_channels


def make_pairs(inputs: torch.Tensor, targets: torch.Tensor, names: list[str], name: str = "") -> PairedDataset:
    """Two uint8 (N, H, W, C) tensors of the same N, H, W -> one PairedDataset."""
    if inputs.shape[:3] != targets.shape[:3]:
        raise ValueError(f"inputs {tuple(inputs.shape)} and targets {tuple(targets.shape)} differ in N, H or W")
    return PairedDataset(torch.cat([inputs, targets], dim=3), name=name, input_channels=inputs.shape[3],
                         names=list(names))


def swap_direction(pairs: PairedDataset) -> PairedDataset:
    """B -> A instead of A -> B."""
    return make_pairs(pairs.targets, pairs.inputs, pairs.names, pairs.name)


def check_direction(direction: str) -> None:
    if direction not in DIRECTIONS:
        raise GanforgeError(f"--direction must be AtoB or BtoA, got {direction!r}")


def split_folder(root: Path, split: str) -> Path | None:
    """The folder holding `split` ("train" or "heldout"); a folder without split sub-folders is all "train"."""
    has_splits = (root / "train").is_dir()
    if split == "train":
        return root / "train" if has_splits else root
    for name in HELDOUT_SPLITS:
        if (root / name).is_dir():
            return root / name
    return None


def _resize(array: np.ndarray, size: int) -> np.ndarray:
    """uint8 (H, W, C) -> (size, size, C): shorter side scaled to `size`, centre square kept."""
    image = Image.fromarray(array[..., 0] if array.shape[2] == 1 else array)
    out = np.asarray(resize_center_crop(image, size), dtype=np.uint8)
    return out[..., None] if out.ndim == 2 else out


def _key(path: Path, root: Path) -> str:
    return path.relative_to(root).with_suffix("").as_posix()


def _read_two_folders(root: Path, channels: int, warn: Callable[[str], None]) -> list[Pair]:
    sides = {}
    for side in ("A", "B"):
        files: dict[str, Path] = {}
        for path in find_images(root / side):
            key = _key(path, root / side)
            if key in files:
                warn(f"warning: skipping {path}: {files[key].name} has the same name in {side}/")
                continue
            files[key] = path
        sides[side] = files
    a_files, b_files = sides["A"], sides["B"]
    pairs = []
    for key in sorted(set(a_files) | set(b_files)):
        if key not in b_files or key not in a_files:
            have, missing = ("A", "B") if key in a_files else ("B", "A")
            path = (a_files if key in a_files else b_files)[key]
            warn(f"warning: skipping {path}: no partner named {key}.* in {root / missing}")
            continue
        try:
            a = decode_image(a_files[key], None, channels)
            b = decode_image(b_files[key], None, channels)
        except BadImage as err:
            warn(f"warning: skipping pair {key} in {root}: {err}")
            continue
        if a.shape[:2] != b.shape[:2]:
            warn(f"warning: skipping pair {key} in {root}: A is {a.shape[1]}x{a.shape[0]} but B is "
                 f"{b.shape[1]}x{b.shape[0]} pixels (the two sides of a pair must be aligned, same size)")
            continue
        pairs.append((key, a, b))
    return pairs


def _read_side_by_side(root: Path, channels: int, warn: Callable[[str], None]) -> list[Pair]:
    pairs = []
    for path in find_images(root):
        try:
            image = decode_image(path, None, channels)
        except BadImage as err:
            warn(f"warning: skipping {path}: {err}")
            continue
        width = image.shape[1]
        if width % 2:
            warn(f"warning: skipping {path}: width {width} is odd, so it cannot be split into equal A|B halves")
            continue
        pairs.append((_key(path, root), image[:, : width // 2], image[:, width // 2 :]))
    return pairs


def load_pair_folder(root: Path, size: int, channels: int, quiet: bool = False,
                     warn: Callable[[str], None] | None = None) -> PairedDataset:
    """Every usable pair under root (A/ + B/, or side-by-side images), both sides resized to `size`."""
    warn = warn or (lambda msg: print(msg, file=sys.stderr))
    two_folders = (root / "A").is_dir() and (root / "B").is_dir()
    reader = _read_two_folders if two_folders else _read_side_by_side
    found = len(find_images(root))
    if not found:
        raise GanforgeError(f"{root}: no image files found; pairs are side-by-side A|B images or A/ and B/ "
                            "folders with matching names")
    pairs = reader(root, channels, warn)
    if not pairs:
        raise GanforgeError(f"{root}: none of its {found} image files gave a usable pair (see warnings above)")
    if not quiet and two_folders and 2 * len(pairs) < found:
        warn(f"warning: using {len(pairs)} pairs from {found} files under {root}")
    inputs = torch.from_numpy(np.stack([_resize(a, size) for _, a, _ in pairs]))
    targets = torch.from_numpy(np.stack([_resize(b, size) for _, _, b in pairs]))
    return make_pairs(inputs, targets, [key for key, _, _ in pairs], name=str(root))
