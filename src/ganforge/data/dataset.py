"""The in-memory data set every recipe trains on, and the one entry point that builds it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from ganforge.errors import GanforgeError
from ganforge.registry import Registry

BUILTIN_DATASETS: Registry = Registry("built-in data set")


@dataclass
class ImageDataset:
    """Decoded images, once: uint8 (N, H, W, C), optional integer labels and their class names."""

    images: torch.Tensor
    labels: torch.Tensor | None = None
    class_names: list[str] = field(default_factory=list)
    name: str = ""

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.ndim != 4:
            raise ValueError(f"images must be uint8 (N, H, W, C), got {self.images.dtype} {tuple(self.images.shape)}")
        if self.labels is not None and len(self.labels) != len(self.images):
            raise ValueError("labels and images differ in length")

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def resolution(self) -> int:
        return self.images.shape[1]

    @property
    def channels(self) -> int:
        return self.images.shape[3]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


def check_resolution(resolution: int) -> None:
    if not (16 <= resolution <= 256) or resolution & (resolution - 1):
        raise GanforgeError(f"--resolution must be a power of two from 16 to 256, got {resolution}")


def load_dataset(source: str, resolution: int, channels: int, quiet: bool = False, aspect: str = "1:1") -> ImageDataset:
    """A built-in data set by name, or every usable image under a folder (searched recursively).

    A non-square `aspect` (W:H, shorter side = resolution) crops instead of squashing: folders scale each
    image to cover the frame and crop its centre; built-in sets are made at the longer side and cropped."""
    check_resolution(resolution)
    if channels not in (1, 3):
        raise GanforgeError(f"--channels must be 1 or 3, got {channels}")
    from ganforge.aspect import image_size
    from ganforge.data import builtin  # noqa: F401  (registers the built-in data sets)

    size = image_size(resolution, aspect)  # (H, W)
    if source in BUILTIN_DATASETS:
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


def center_crop(dataset: ImageDataset, size: tuple[int, int]) -> ImageDataset:
    """The centre (height, width) window of every image."""
    h, w = dataset.images.shape[1:3]
    top, left = (h - size[0]) // 2, (w - size[1]) // 2
    images = dataset.images[:, top : top + size[0], left : left + size[1]].contiguous()
    return ImageDataset(images, dataset.labels, dataset.class_names, dataset.name)
