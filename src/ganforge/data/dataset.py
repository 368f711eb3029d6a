"""The in-memory data set every recipe trains on."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ganforge.errors import GanforgeError


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


def center_crop(dataset: ImageDataset, size: tuple[int, int]) -> ImageDataset:
    """The centre (height, width) window of every image."""
    h, w = dataset.images.shape[1:3]
    top, left = (h - size[0]) // 2, (w - size[1]) // 2
    images = dataset.images[:, top : top + size[0], left : left + size[1]].contiguous()
    return ImageDataset(images, dataset.labels, dataset.class_names, dataset.name)
