"""What a run's settings are resolved from before any data is loaded: a source's natural image size and
how many images it holds (config/resolver.py asks both)."""

from __future__ import annotations

import inspect
from pathlib import Path

# built-in sets drawn smaller than the 64 px a folder of images gets, and the grey ones
NATURAL_RESOLUTION = {"digits": 32, "shapes": 32, "edges2digits": 32, "masks2shapes": 32, "stacked-digits": 16,
                      "thick-digits": 32, "circles2squares": 32, "mirror-digits": 32}
NATURAL_CHANNELS = {"digits": 1, "edges2digits": 1, "thick-digits": 1, "mirror-digits": 1}
FOLDER_RESOLUTION = 64


def natural_size(source: str) -> tuple[int, int]:
    """(resolution, channels) a data source trains at when neither is given."""
    return NATURAL_RESOLUTION.get(source, FOLDER_RESOLUTION), NATURAL_CHANNELS.get(source, 3)


def count_images(source: str) -> int | None:
    """How many images a data source holds, without decoding them (None for an unknown source)."""
    from ganforge.data.builtin import BUILTIN_DATASETS
    from ganforge.data.load import load_dataset

    if source in BUILTIN_DATASETS:
        count = inspect.signature(BUILTIN_DATASETS.get(source)).parameters.get("count")
        if count is not None:  # shapes: its size is an argument; rendering 5,000 images to count them is slow
            return int(count.default)
        return len(load_dataset(source, 16, 3, quiet=True))
    path = Path(source).expanduser()
    if path.is_dir():
        from ganforge.data.folder import find_images

        return len(find_images(path))
    return None


def count_classes(source: str) -> int:
    """How many classes a source's images come in (class sub-folders; the built-in shapes' kinds); 0: none."""
    from ganforge.data.builtin import SHAPE_NAMES

    if source == "shapes":
        return len(SHAPE_NAMES)
    path = Path(source).expanduser()
    if not path.is_dir():
        return 0
    from ganforge.data.folder import find_images

    folders = {p.relative_to(path).parts[0] for p in find_images(path) if len(p.relative_to(path).parts) > 1}
    return len(folders) if len(folders) > 1 else 0
