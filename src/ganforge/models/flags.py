"""Module-level layer flags changed for a block and restored: how benchmarks and tests compare a layer's forms."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def overridden(namespace: dict[str, Any], allowed: set[str], flags: dict[str, object], what: str) -> Iterator[None]:
    """Set `flags` in a module's globals (`namespace`) for the block, then restore them; names outside `allowed`
    are refused (ValueError naming them) so a typo cannot silently compare a form with itself."""
    unknown = set(flags) - allowed
    if unknown:
        raise ValueError(f"not a {what} flag: {sorted(unknown)}")
    saved = {name: namespace[name] for name in flags}
    namespace.update(flags)
    try:
        yield
    finally:
        namespace.update(saved)
