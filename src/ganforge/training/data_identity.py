"""Whether a resumed run trains on the data it was saved with.

The data is read into memory when a run starts, so files removed or added while it trains change nothing
until it is resumed. A resume then reads the folder as it is now: a checkpoint records the data's size, classes
and content hash, and a resume says when they changed (the data order, and so the weights, then differ from an
uninterrupted run) and refuses a conditional run whose classes changed (its label embedding would not fit).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import torch

from ganforge.errors import GanforgeError


def data_summary(dataset: Any) -> dict[str, Any]:
    """{"items", "classes", "sha256"} of an image, pair or point data set (hashed once, at build time)."""
    values = dataset.images if hasattr(dataset, "images") else dataset.points
    digest = hashlib.sha256()
    flat = values.detach().cpu().contiguous().view(-1).view(torch.uint8)  # the raw bytes, whatever the dtype
    digest.update(flat.numpy().data)
    for extra in ("b_images", "partners"):  # unpaired data: the second domain and the known pairs count too
        if hasattr(dataset, extra):
            digest.update(getattr(dataset, extra).detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().data)
    return {"items": len(dataset), "classes": list(getattr(dataset, "class_names", []) or []),
            "sha256": digest.hexdigest()}


def check_same_data(saved: dict[str, Any] | None, now: dict[str, Any], source: str, conditional: bool,
                    step: int, warn: Callable[[str], None]) -> None:
    """Warn (one line) when the data changed since the checkpoint; refuse when a conditional run's classes did."""
    if not saved or saved.get("sha256") == now["sha256"]:
        return  # unchanged, or a checkpoint from before this record
    if conditional and list(saved.get("classes", [])) != now["classes"]:
        then, here = len(saved.get("classes", [])), len(now["classes"])
        raise GanforgeError(f"{source}: its classes changed since step {step} was saved ({then} then, {here} now: "
                            f"{_difference(saved.get('classes', []), now['classes'])}); a conditional run needs the "
                            "classes it was trained with: restore the data or start a new run")
    warn(f"warning: {source} changed since step {step} was saved ({saved.get('items')} items then, {now['items']} "
         "now); training goes on with the data as it is now, so the result will differ from an uninterrupted run")


def _difference(then: list[str], now: list[str]) -> str:
    gone, new = sorted(set(then) - set(now)), sorted(set(now) - set(then))
    parts = ([f"gone {', '.join(gone[:3])}"] if gone else []) + ([f"new {', '.join(new[:3])}"] if new else [])
    return "; ".join(parts) or "renamed or reordered"
