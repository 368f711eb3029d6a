"""The entry points that turn a `--data` value (a built-in name or a folder) into a data set in memory.

They sit above the readers and the built-in sets, which never import them, so the package has no cycle."""

from __future__ import annotations

from pathlib import Path

from ganforge.data.dataset import ImageDataset, center_crop, check_resolution
from ganforge.data.paired import PairedDataset, check_direction, load_pair_folder, split_folder, swap_direction
from ganforge.errors import GanforgeError


def load_dataset(source: str, resolution: int, channels: int, quiet: bool = False, aspect: str = "1:1") -> ImageDataset:
    """A built-in data set by name, or every usable image under a folder (searched recursively).

    A non-square `aspect` (W:H, shorter side = resolution) crops instead of squashing: folders scale each
    image to cover the frame and crop its centre; built-in sets are made at the longer side and cropped."""
    check_resolution(resolution)
    if channels not in (1, 3, 4):
        raise GanforgeError(f"--channels must be 1, 3 or 4, got {channels}")
    from ganforge.aspect import image_size
    from ganforge.data.builtin import BUILTIN_DATASETS

    size = image_size(resolution, aspect)  # (H, W)
    if source in BUILTIN_DATASETS:
        if channels == 4:
            raise GanforgeError(f"--data {source}: --channels 4 needs a folder of images with transparency; the "
                                "built-in data sets have none")
        dataset = BUILTIN_DATASETS.get(source)(resolution=max(size), channels=channels)
        return dataset if size[0] == size[1] else center_crop(dataset, size)
    path = Path(source).expanduser()
    if path.is_dir():
        from ganforge.data.folder import load_image_folder

        return load_image_folder(path, resolution=resolution if size[0] == size[1] else size, channels=channels,
                                 quiet=quiet)
    if path.exists():
        raise GanforgeError(f"{source}: is a file; --data takes a folder of images or a built-in data set")
    names = ", ".join(BUILTIN_DATASETS.names())
    raise GanforgeError(f"{source}: no such folder, and not a built-in data set ({names})")


def load_pairs(source: str, resolution: int, channels: int, direction: str = "AtoB", split: str = "train",
               load_size: int | None = None, quiet: bool = False) -> PairedDataset | None:
    """A built-in paired task by name, or pairs from a folder; None when `split` is "heldout" and there is none.

    `load_size` > resolution stores the pairs larger, for random crops back to `resolution` in training."""
    check_direction(direction)
    from ganforge.data.paired_builtin import PAIRED_TASKS, not_a_data_folder

    size = load_size or resolution
    if source in PAIRED_TASKS:
        pairs = PAIRED_TASKS.get(source)(resolution=size, channels=channels, split=split)
    else:
        path = Path(source).expanduser()
        if not path.is_dir():
            raise not_a_data_folder(source, path.exists(), "pix2pix --data takes a folder of pairs (side-by-side "
                                    "A|B images, or A/ and B/ folders)")
        folder = split_folder(path, split)
        if folder is None:
            return None
        pairs = load_pair_folder(folder, size, channels, quiet=quiet)
    return swap_direction(pairs) if direction == "BtoA" else pairs
