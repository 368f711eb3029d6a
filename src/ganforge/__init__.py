"""ganforge: train, inspect and use GANs and neural style transfer on your own images."""

from ganforge.errors import GanforgeError

__version__ = "0.1.0"
__all__ = ["GanforgeError", "__version__"]
