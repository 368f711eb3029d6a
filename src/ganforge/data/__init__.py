"""Image data sets: folders of your own images and built-in ones, held in memory as uint8."""

from ganforge.data.dataset import ImageDataset, load_dataset

__all__ = ["ImageDataset", "load_dataset"]
