"""ganforge: train, inspect and use GANs and neural style transfer on your own images.

    import ganforge
    result = ganforge.train(data="digits", out="runs/demo", total_steps=300)
    images = ganforge.load(result.out_dir).sample(16, seed=0)

The training machinery lives in the subpackage `ganforge.training`, so the name `train` stays the function.
"""

from ganforge.api import Model, evaluate, load, save_grid, stylize, train
from ganforge.config import TrainConfig
from ganforge.errors import GanforgeError
from ganforge.version import __version__

__all__ = ["GanforgeError", "Model", "TrainConfig", "__version__", "evaluate", "load", "save_grid", "stylize",
           "train"]
