"""Two image domains for unpaired translation (CycleGAN), with the pairs that happen to be known.

Layouts of `--data`:

* `A_DIR:B_DIR`: two folders, any counts, any sizes;
* a folder with `A/` and `B/` (or the CycleGAN sets' `trainA/ trainB/ testA/ testB/`), optionally inside
  `train/` and `test/` (or `val/`) split folders;
* a built-in paired task (edges2digits, thick-digits, circles2squares, ...): its two sides without the
  pairing, `--paired-fraction` of them with it; its held-out pairs are a hidden ground truth for scoring.

Semi-supervised: an image in A and one in B with the same name (relative path without extension), and the
images of a `pairs/` folder (its own `A/` and `B/`), are known partners. Unreadable files are skipped with
one warning naming them, as everywhere; an empty side is an error.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ganforge.data.batches import BatchStream
from ganforge.data.dataset import ImageDataset, check_resolution
from ganforge.data.folder import BadImage, decode_image, find_images
from ganforge.errors import GanforgeError

Warn = Callable[[str], None]
HELDOUT_SPLITS = ("test", "val")


@dataclass
class UnpairedDataset(ImageDataset):
    """`images`: domain A, uint8 (N_A, H, W, C_A); `b_images`: domain B, (N_B, H, W, C_B), N_B may differ.

    `partners` (K, 2) holds (A index, B index) of the images known to correspond."""

    b_images: torch.Tensor = field(default_factory=lambda: torch.empty(0, 1, 1, 1, dtype=torch.uint8))
    partners: torch.Tensor = field(default_factory=lambda: torch.empty(0, 2, dtype=torch.long))
    names_a: list[str] = field(default_factory=list)
    names_b: list[str] = field(default_factory=list)

    @property
    def a_channels(self) -> int:
        return self.images.shape[3]

    @property
    def b_channels(self) -> int:
        return self.b_images.shape[3]

    def paired(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The known partners: A images and their B images, uint8 (K, H, W, C) each."""
        return self.images[self.partners[:, 0]], self.b_images[self.partners[:, 1]]


class UnpairedStream:
    """Independent shuffled batches of A and of B (and of the known pairs, stacked on channels, when there are
    any), all at one position, so a resumed run needs one number. `next()` gives them stacked on channels:
    (B, C_A + C_B [+ C_A + C_B], H, W)."""

    def __init__(self, dataset: UnpairedDataset, device: torch.device, batch_size: int, seed: int,
                 flip: bool = False, rank: int = 0, world_size: int = 1,
                 on_device: Callable[[torch.Tensor, torch.device], torch.Tensor] | None = None) -> None:
        place = on_device or (lambda t, d: t.to(d))
        common = dict(batch_size=batch_size, flip=flip, rank=rank, world_size=world_size)
        self.streams = [BatchStream(place(dataset.images, device), seed=seed, **common),
                        BatchStream(place(dataset.b_images, device), seed=seed + 7_919, **common)]
        if len(dataset.partners):
            a, b = dataset.paired()
            self.streams.append(BatchStream(torch.cat([a, b], dim=3).to(device), seed=seed + 15_485, **common))

    @property
    def position(self) -> int:
        return self.streams[0].position

    @position.setter
    def position(self, value: int) -> None:
        for stream in self.streams:
            stream.position = value

    @property
    def epoch(self) -> float:
        return self.streams[0].epoch

    def next(self) -> tuple[torch.Tensor, None]:
        return torch.cat([stream.next()[0] for stream in self.streams], dim=1), None


def _key(path: Path, root: Path) -> str:
    return path.relative_to(root).with_suffix("").as_posix()


def read_side(root: Path, size: tuple[int, int], channels: int, warn: Warn,
              allow_empty: bool = False) -> tuple[torch.Tensor, list[str]]:
    """Every readable image under root, scaled to cover (H, W) and centre-cropped, with its name (path without
    extension); unreadable ones skipped with a warning naming them."""
    files = find_images(root)
    if not files and not allow_empty:
        raise GanforgeError(f"{root}: no image files found; unpaired translation needs images in both domains")
    arrays, keys = [], []
    for path in files:
        try:
            arrays.append(decode_image(path, size, channels))
        except BadImage as err:
            warn(f"warning: skipping {path}: {err}")
            continue
        keys.append(_key(path, root))
    if not arrays:
        if files:
            raise GanforgeError(f"{root}: none of its {len(files)} image files could be read (see warnings above)")
        return torch.empty(0, *size, channels, dtype=torch.uint8), []
    return torch.from_numpy(np.stack(arrays)), keys


def find_sides(root: Path, split: str) -> tuple[Path, Path] | None:
    """The A and B folders of one split under root; None when the split is "heldout" and root has none."""
    if split == "train":
        for a, b in (("train/A", "train/B"), ("trainA", "trainB"), ("A", "B")):
            if (root / a).is_dir() or (root / b).is_dir():
                return _both(root, a, b)
        raise GanforgeError(f"{root}: no A/ and B/ folders (nor train/A and train/B, nor trainA/ and trainB/); "
                            "unpaired data is a folder holding the two domains, or A_DIR:B_DIR")
    for name in HELDOUT_SPLITS:
        for a, b in ((f"{name}/A", f"{name}/B"), (f"{name}A", f"{name}B")):
            if (root / a).is_dir() or (root / b).is_dir():
                return _both(root, a, b)
    return None


def _both(root: Path, a: str, b: str) -> tuple[Path, Path]:
    for side, other in ((a, b), (b, a)):
        if not (root / side).is_dir():
            raise GanforgeError(f"{root}: has {other}/ but no {side}/ folder; unpaired data needs both domains")
    return root / a, root / b


def load_sides(a_dir: Path, b_dir: Path, size: tuple[int, int], channels: int, pairs_dir: Path | None = None,
               quiet: bool = False, warn: Warn | None = None) -> UnpairedDataset:
    """Two folders as domains A and B; same-named files (and a pairs/ folder's A/ and B/) are partners."""
    warn = warn or (lambda msg: print(msg, file=sys.stderr))
    for folder in (a_dir, b_dir):
        if not folder.is_dir():
            raise GanforgeError(f"{folder}: {'is a file' if folder.exists() else 'no such folder'}; unpaired "
                                "--data takes A_DIR:B_DIR, a folder with A/ and B/, or a built-in task")
    a, a_keys = read_side(a_dir, size, channels, warn)
    b, b_keys = read_side(b_dir, size, channels, warn)
    b_index = {key: i for i, key in enumerate(b_keys)}
    partners = [(i, b_index[key]) for i, key in enumerate(a_keys) if key in b_index]
    if pairs_dir is not None and pairs_dir.is_dir():
        pa, pa_keys = read_side(pairs_dir / "A", size, channels, warn, allow_empty=True)
        pb, pb_keys = read_side(pairs_dir / "B", size, channels, warn, allow_empty=True)
        pb_index = {key: i for i, key in enumerate(pb_keys)}
        for key in set(pa_keys) ^ set(pb_keys):
            side, other = ("A", "B") if key in pa_keys else ("B", "A")
            warn(f"warning: {pairs_dir / side / key}.*: no partner named {key}.* in {pairs_dir / other}; used "
                 f"as an unpaired {side} image")
        partners += [(len(a) + i, len(b) + pb_index[key]) for i, key in enumerate(pa_keys) if key in pb_index]
        a, b = torch.cat([a, pa]), torch.cat([b, pb])
        a_keys, b_keys = a_keys + [f"pairs/{k}" for k in pa_keys], b_keys + [f"pairs/{k}" for k in pb_keys]
    if not quiet and partners:
        warn(f"note: {len(partners)} image(s) have a partner in the other domain: their pairs add pix2pix's L1 "
             "(--paired-weight)")
    return UnpairedDataset(a, name=f"{a_dir}:{b_dir}", b_images=b,
                           partners=torch.tensor(partners, dtype=torch.long).reshape(-1, 2),
                           names_a=a_keys, names_b=b_keys)


def from_pairs(inputs: torch.Tensor, targets: torch.Tensor, names: list[str], fraction: float,
               name: str) -> UnpairedDataset:
    """A paired set used without its pairing: every input in A, every target in B, and the first
    round(fraction * N) pairs kept as known partners."""
    known = round(fraction * len(inputs))
    partners = torch.arange(known).repeat(2, 1).T.reshape(-1, 2)
    return UnpairedDataset(inputs, name=name, b_images=targets, partners=partners, names_a=list(names),
                           names_b=list(names))


def split_source(source: str) -> tuple[Path, Path] | None:
    """`A_DIR:B_DIR` -> the two folders; None for anything else (a folder, a built-in name)."""
    if Path(source).expanduser().is_dir() or ":" not in source:
        return None
    a, b = source.split(":", 1)
    if not a or not b:
        raise GanforgeError(f"--data {source}: give two folders, A_DIR:B_DIR")
    return Path(a).expanduser(), Path(b).expanduser()


def load_unpaired(source: str, resolution: int, channels: int, split: str = "train", aspect: str = "1:1",
                  paired_fraction: float = 0.0, quiet: bool = False) -> UnpairedDataset | None:
    """The two domains a `--data` value names (see the module's docstring); None when `split` is "heldout"
    and the source has no held-out split. Held-out built-in data is all pairs (the hidden ground truth)."""
    check_resolution(resolution)
    from ganforge.aspect import image_size
    from ganforge.data.paired_builtin import PAIRED_TASKS, not_a_data_folder

    size = image_size(resolution, aspect)
    if source in PAIRED_TASKS:
        pairs = PAIRED_TASKS.get(source)(resolution=max(size), channels=channels, split=split)
        inputs, targets = pairs.inputs, pairs.targets
        if size[0] != size[1]:
            top, left = (max(size) - size[0]) // 2, (max(size) - size[1]) // 2
            crop = (slice(None), slice(top, top + size[0]), slice(left, left + size[1]))
            inputs, targets = inputs[crop].contiguous(), targets[crop].contiguous()
        return from_pairs(inputs, targets, pairs.names, 1.0 if split == "heldout" else paired_fraction, source)
    if paired_fraction and split == "train":
        raise GanforgeError(f"--paired-fraction {paired_fraction}: for built-in tasks; in folders the known pairs are "
                            "files with the same name in A and B, or a pairs/ folder")
    two = split_source(source)
    if two is not None:
        return load_sides(*two, size, channels, quiet=quiet) if split == "train" else None
    root = Path(source).expanduser()
    if not root.is_dir():
        raise not_a_data_folder(source, root.exists(), "unpaired --data takes A_DIR:B_DIR, a folder with A/ and B/,")
    sides = find_sides(root, split)
    if sides is None:
        return None
    pairs_dir = sides[0].parent / "pairs"
    return load_sides(*sides, size, channels, pairs_dir=pairs_dir, quiet=quiet)
