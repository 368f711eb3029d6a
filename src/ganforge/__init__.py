"""ganforge: train, inspect and use GANs and neural style transfer on your own images.

    import ganforge
    result = ganforge.train(data="digits", out="runs/demo", total_steps=300)
    images = ganforge.load(result.out_dir).sample(16, seed=0)
"""

import types

import ganforge.train as _train_package
from ganforge.api import Model, evaluate, load, save_grid, stylize
from ganforge.api import train as _train
from ganforge.config import TrainConfig
from ganforge.errors import GanforgeError
from ganforge.version import __version__


class _CallablePackage(types.ModuleType):
    """`ganforge.train` is both the training subpackage and the public function: calling the package trains,
    and `ganforge.train.loop` stays importable (a plain function there would be replaced by the subpackage
    the first time one of its modules is imported)."""

    def __call__(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN204
        return _train(*args, **kwargs)

    __call__.__doc__ = _train.__doc__


_train_package.__class__ = _CallablePackage
train = _train_package

__all__ = ["GanforgeError", "Model", "TrainConfig", "__version__", "evaluate", "load", "save_grid", "stylize",
           "train"]
