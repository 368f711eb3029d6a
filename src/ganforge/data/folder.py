"""Your own images: a folder searched recursively, every odd or broken file handled.

Each file is decoded once into uint8; files that cannot be used are skipped with one warning line
naming the file and the reason, and a summary count. Labels come from the first level of
sub-folders when there are at least two of them.
"""

from __future__ import annotations

import struct
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from ganforge.data.dataset import ImageDataset
from ganforge.errors import GanforgeError
from ganforge.images import has_alpha, to_channels

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
MAX_PIXELS = 64_000_000  # larger images are refused as possible decompression bombs
# The decoders PIL may use. Any other content is refused whatever the file is called: PIL would
# otherwise sniff the bytes and, for example, hand an EPS file named .png to Ghostscript.
DECODERS = ["PNG", "JPEG", "BMP", "GIF", "WEBP", "TIFF"]  # JPEG includes multi-picture (MPO) files


class BadImage(Exception):
    """A file that is not a usable image; the message says why."""


def find_images(root: Path) -> list[Path]:
    """Every file under root with an image extension (any case), sorted for reproducibility."""
    files = [p for p in root.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and not p.is_dir()]
    return sorted(files)


def to_mode(image: Image.Image, channels: int) -> Image.Image:
    """Any PIL mode -> 'L', 'RGB' or 'RGBA' (images.to_channels: transparency onto white unless channels is 4)."""
    return to_channels(image, channels)


def resize_center_crop(image: Image.Image, resolution: int | tuple[int, int]) -> Image.Image:
    """Scale the image until it just covers `resolution` (a square side, or (height, width) for --aspect),
    then crop the centre: never squashed."""
    height, width = (resolution, resolution) if isinstance(resolution, int) else resolution
    w, h = image.size
    scale = max(width / w, height / h)
    new_size = (max(width, round(w * scale)), max(height, round(h * scale)))
    image = image.resize(new_size, Image.Resampling.BICUBIC, reducing_gap=3.0)
    left, top = (new_size[0] - width) // 2, (new_size[1] - height) // 2
    return image.crop((left, top, left + width, top + height))


def decode_image(path: Path, resolution: int | tuple[int, int] | None, channels: int,
                 on_alpha: Callable[[], None] | None = None) -> np.ndarray:
    """One file -> uint8 (R, R, C), or (H, W, C) at its own size when resolution is None.

    Raises BadImage with a short reason for anything unusable; `on_alpha` is called when the file is partly
    transparent."""
    image = open_image(path, channels, on_alpha)
    if resolution is not None:
        image = resize_center_crop(image, resolution)
    arr = np.asarray(image, dtype=np.uint8)
    return arr[..., None] if arr.ndim == 2 else arr


def open_image(path: Path, channels: int, on_alpha: Callable[[], None] | None = None) -> Image.Image:
    """One file -> an upright 'L', 'RGB' or 'RGBA' PIL image (images.to_channels). Raises BadImage with a short
    reason for anything unusable; calls `on_alpha` when the file is partly transparent."""
    if path.is_symlink() and not path.exists():
        raise BadImage("dangling symbolic link")
    try:
        if path.stat().st_size == 0:
            raise BadImage("empty file")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # PIL's notes on damaged metadata: the outcome says enough
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path, formats=DECODERS) as image:
                if image.width * image.height > MAX_PIXELS:
                    raise BadImage(f"too large ({image.width}x{image.height} pixels)")
                if image.width < 1 or image.height < 1:
                    raise BadImage("has no pixels")
                image.seek(0)  # first frame of animations
                image.load()
                image = ImageOps.exif_transpose(image)
                if on_alpha is not None and has_alpha(image):
                    on_alpha()
                image = to_channels(image, channels)
    except BadImage:
        raise
    except UnidentifiedImageError:
        raise BadImage("not an image in a format ganforge reads (PNG, JPEG, BMP, GIF, WebP, TIFF)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise BadImage("refused as a possible decompression bomb (too many pixels)") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, struct.error) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise BadImage(f"unreadable ({reason})") from None
    return image


def _label_of(path: Path, root: Path) -> str | None:
    parts = path.relative_to(root).parts
    return parts[0] if len(parts) > 1 else None


def load_image_folder(
    root: Path,
    resolution: int | tuple[int, int],  # a square side, or (height, width)
    channels: int,
    quiet: bool = False,
    warn: Callable[[str], None] | None = None,
) -> ImageDataset:
    """Decode every usable image under root; fail at once if none is usable."""
    warn = warn or (lambda msg: print(msg, file=sys.stderr))
    files = find_images(root)
    if not files:
        exts = ", ".join(sorted(IMAGE_EXTENSIONS))
        raise GanforgeError(f"{root}: no image files found (looked recursively for {exts})")
    images, names, skipped, transparent = [], [], 0, []
    for path in files:
        try:
            images.append(decode_image(path, resolution, channels, lambda: transparent.append(True)))
            names.append(_label_of(path, root))
        except BadImage as err:
            skipped += 1
            warn(f"warning: skipping {path}: {err}")
    if transparent and channels != 4 and not quiet:  # said once for the folder, not once per file
        warn(f"warning: {len(transparent)} of {len(files)} images under {root} are partly transparent; they are "
             "composited onto white (--channels 4 trains on the transparency as a fourth channel)")
    if skipped and not quiet:
        warn(f"warning: skipped {skipped} of {len(files)} files under {root}; using {len(images)}")
    if not images:
        raise GanforgeError(f"{root}: none of the {len(files)} image files could be read (see warnings above)")
    tensor = torch.from_numpy(np.stack(images))
    class_names = sorted({n for n in names if n is not None})
    labels = None
    if len(class_names) >= 2 and all(n is not None for n in names):
        index = {n: i for i, n in enumerate(class_names)}
        labels = torch.tensor([index[n] for n in names], dtype=torch.int64)
    else:
        class_names = []
    return ImageDataset(tensor, labels, class_names, name=str(root))
