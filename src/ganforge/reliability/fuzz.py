"""Damaged image files for the image-folder decoder: real files in every format ganforge reads, and the mutations
that damaged downloads and broken disks make. `check_case` says what `decode_image` must do with each one.

The long run is `python benchmarks/fuzz_images.py --cases 5000`; tests drive the same pieces through hypothesis.
"""

from __future__ import annotations

import io
import random
from pathlib import Path

import numpy as np
from PIL import Image

from ganforge.data.folder import BadImage, decode_image

SEED_SIZE = (23, 17)  # small and odd-sized: fast to decode, exercises the resize-and-crop path


def seed_images() -> dict[str, bytes]:
    """Real files in every format and the modes that matter, written by PIL: {name: bytes}."""
    rng = np.random.default_rng(0)
    w, h = SEED_SIZE
    rgb = Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), "RGB")
    rgba = Image.fromarray(rng.integers(0, 256, (h, w, 4), dtype=np.uint8), "RGBA")
    grey = rgb.convert("L")
    deep = Image.fromarray(rng.integers(0, 65536, (h, w), dtype=np.uint16))  # 16-bit greyscale
    rotated = rgb.copy()
    exif = rotated.getexif()
    exif[0x0112] = 6  # EXIF orientation: rotate on load
    out: dict[str, bytes] = {}

    def add(name: str, image: Image.Image, fmt: str, **options: object) -> None:
        buffer = io.BytesIO()
        image.save(buffer, fmt, **options)
        out[name] = buffer.getvalue()

    add("rgb.png", rgb, "PNG")
    add("rgba.png", rgba, "PNG")
    add("palette.png", rgb.quantize(16), "PNG")
    add("grey16.png", deep, "PNG")
    add("rgb.jpg", rgb, "JPEG", quality=90)
    add("progressive.jpg", rgb, "JPEG", progressive=True)
    add("exif-rotated.jpg", rotated, "JPEG", exif=exif)
    add("grey.jpg", grey, "JPEG")
    add("rgb.bmp", rgb, "BMP")
    add("palette.bmp", rgb.quantize(8), "BMP")
    frames = [rgb.quantize(8), rgb.rotate(90).quantize(8)]
    add("animated.gif", frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50)
    add("rgb.webp", rgb, "WEBP", quality=80)
    add("rgba.webp", rgba, "WEBP", lossless=True)
    add("rgb.tif", rgb, "TIFF")
    add("deflate.tif", rgb, "TIFF", compression="tiff_deflate")
    add("grey16.tif", deep, "TIFF")
    return out


BOUNDARY_BYTES = [0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF]


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One to four random damages; half of them aimed at the first 64 bytes, where headers live."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        if not buf:
            break
        n = len(buf)
        pos = rng.randrange(min(n, 64)) if rng.random() < 0.5 else rng.randrange(n)
        kind = rng.randrange(7)
        if kind == 0:  # flip one bit
            buf[pos] ^= 1 << rng.randrange(8)
        elif kind == 1:  # boundary value
            buf[pos] = rng.choice(BOUNDARY_BYTES)
        elif kind == 2:  # a header field overwritten with a large or zero 16/32-bit number
            width = rng.choice([2, 4])
            value = rng.choice([0, 1, 0xFFFF, 0x7FFF, 0xFFFFFFFF, 0x7FFFFFFF, rng.randrange(1 << (8 * width))])
            buf[pos:pos + width] = (value & ((1 << (8 * width)) - 1)).to_bytes(width, rng.choice(["big", "little"]))
        elif kind == 3:  # truncate
            del buf[rng.randrange(n):]
        elif kind == 4:  # cut a chunk out
            del buf[pos:pos + rng.randint(1, 64)]
        elif kind == 5:  # repeat a chunk
            chunk = buf[pos:pos + rng.randint(1, 64)]
            buf[pos:pos] = chunk * rng.randint(1, 8)
        else:  # insert junk
            buf[pos:pos] = rng.randbytes(rng.randint(1, 32))
    return bytes(buf)


def check_case(path: Path, resolution: int, channels: int) -> str:
    """'ok' or 'skipped: <reason>'; raises AssertionError for anything decode_image must never do."""
    try:
        arr = decode_image(path, resolution, channels)
    except BadImage as err:
        reason = str(err)
        if not reason.strip() or "\n" in reason:
            raise AssertionError(f"{path.name}: BadImage without a one-line reason: {reason!r}") from err
        return f"skipped: {reason}"
    if arr.shape != (resolution, resolution, channels) or arr.dtype != np.uint8:  # raised, not asserted: -O keeps it
        raise AssertionError(f"{path.name}: shape {arr.shape}, dtype {arr.dtype}")
    return "ok"
