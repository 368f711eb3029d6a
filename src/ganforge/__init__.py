"""ganforge: train, inspect and use GANs and neural style transfer on your own images.

    import ganforge
    result = ganforge.train(data="digits", out="runs/demo", total_steps=300)
    images = ganforge.load(result.out_dir).sample(16, seed=0)

The training machinery lives in the subpackage `ganforge.training`, so the name `train` stays the function.
"""

from ganforge.threads import prefer_passive_waiting

prefer_passive_waiting()  # before the imports below load torch: OpenMP reads its wait policy once, then

from ganforge.api import Model, evaluate, load, save_grid, stylize, train  # noqa: E402
from ganforge.config import TrainConfig  # noqa: E402
from ganforge.errors import GanforgeError  # noqa: E402
from ganforge.version import __version__  # noqa: E402

__all__ = ["GanforgeError", "Model", "TrainConfig", "__version__", "evaluate", "load", "save_grid", "stylize",
           "train"]
