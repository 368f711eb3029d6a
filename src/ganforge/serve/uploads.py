"""Untrusted uploads -> a decoded image, or a one-line reason it was refused.

Checks happen before decoding: file size first, then the header's dimensions, so a small file
that claims to be 100,000 px wide is refused without allocating its pixels.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from ganforge.errors import GanforgeError
from ganforge.images import has_alpha, to_channels

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_SIDE_PX = 4096
FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF")


def read_image_upload(path: str | os.PathLike, max_bytes: int = MAX_UPLOAD_BYTES,
                      max_side: int = MAX_SIDE_PX) -> Image.Image:
    """Decode an uploaded image as RGB, or RGBA when it is partly transparent (what each tab needs of it is
    images.to_channels' choice, as for training files); GanforgeError (naming the file) for anything else."""
    path = Path(path)
    name = path.name
    try:
        size = path.stat().st_size
    except OSError:
        raise GanforgeError(f"{name}: the upload could not be read; please try again") from None
    if size > max_bytes:
        raise GanforgeError(f"{name}: {size / 2**20:.1f} MB is over the {max_bytes / 2**20:.0f} MB upload limit")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path, formats=FORMATS) as image:
                width, height = image.size
                if width < 1 or height < 1 or max(width, height) > max_side:
                    raise GanforgeError(f"{name}: {width}x{height} px is outside the accepted size "
                                        f"(1 to {max_side} px per side)")
                image.load()
                return to_channels(image, 4 if has_alpha(image) else 3)
    except GanforgeError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise GanforgeError(f"{name}: not an image ganforge can read (use PNG, JPEG, WebP, BMP, GIF or TIFF)") from None
    except (OSError, ValueError, SyntaxError) as err:
        raise GanforgeError(f"{name}: the image is damaged or truncated ({str(err)[:80]})") from None
