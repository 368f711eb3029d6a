"""Image data sets: folders of your own images and built-in ones, held in memory as uint8."""

from ganforge.data.dataset import ImageDataset
from ganforge.data.load import load_dataset, load_pairs
from ganforge.data.paired import PairedDataset

__all__ = ["ImageDataset", "PairedDataset", "load_dataset", "load_pairs"]
