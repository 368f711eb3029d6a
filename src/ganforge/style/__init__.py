"""Neural style transfer (Gatys et al.): `stylize(content, styles, StyleConfig(...))` returns a PIL image."""

from ganforge.style.config import StyleConfig
from ganforge.style.gatys import StepInfo, stylize

__all__ = ["StepInfo", "StyleConfig", "stylize"]
