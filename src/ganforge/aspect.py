"""Non-square images (`--aspect W:H`): the shorter side is --resolution, the longer side follows.

Every architecture here starts from a small grid and doubles it; for an aspect that grid is
(4, 4 * W/H) in landscape or (4 * H/W, 4) in portrait, so it must come out in whole pixels.
"""

from __future__ import annotations

import math

from ganforge.errors import GanforgeError

MAX_RATIO = 4  # longer side at most 4x the shorter one


def parse_aspect(text: str) -> tuple[int, int]:
    """'2:1' -> (2, 1) as (width, height), reduced; GanforgeError naming --aspect otherwise."""
    try:
        w, h = (int(part) for part in str(text).split(":"))
    except ValueError:
        raise GanforgeError(f"--aspect must be WIDTH:HEIGHT in whole numbers, e.g. 2:1, got {text!r}") from None
    if w < 1 or h < 1:
        raise GanforgeError(f"--aspect must have positive sides, got {text!r}")
    g = math.gcd(w, h)
    w, h = w // g, h // g
    if max(w, h) > MAX_RATIO * min(w, h):
        raise GanforgeError(f"--aspect {text}: the longer side may be at most {MAX_RATIO}x the shorter one")
    if (4 * max(w, h)) % min(w, h):
        raise GanforgeError(f"--aspect {text}: the networks start from a 4-pixel grid, so 4 x {max(w, h)}/"
                            f"{min(w, h)} must be whole; try 1:1, 2:1, 3:2, 5:4, 3:1 or their portrait forms")
    return w, h


def base_grid(aspect: str) -> tuple[int, int]:
    """(height, width) of the smallest feature map: (4, 4) square, (4, 8) for 2:1, (6, 4) for 2:3."""
    w, h = parse_aspect(aspect)
    short = min(w, h)
    return 4 * h // short, 4 * w // short


def image_size(resolution: int, aspect: str) -> tuple[int, int]:
    """(height, width) of the images: the shorter side is `resolution`."""
    h0, w0 = base_grid(aspect)
    return resolution * h0 // 4, resolution * w0 // 4


def is_square(aspect: str) -> bool:
    w, h = parse_aspect(aspect)
    return w == h
