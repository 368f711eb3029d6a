"""High-resolution settings: validation, each architecture's own defaults, and the small-data choice.

`ganforge train` calls `apply_model_defaults` with the names of the settings the user gave, so a flag
always wins; the Python API takes TrainConfig as written.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ganforge.aspect import is_square, parse_aspect
from ganforge.config.train_config import TrainConfig
from ganforge.errors import GanforgeError

SMALL_DATA_IMAGES = 5000  # below this many images, at 128 px and up, `ganforge train` picks SMALL_DATA_MODEL
SMALL_DATA_MIN_RESOLUTION = 128
SMALL_DATA_MODEL = "fastgan"
ASPECT_MODELS = ("dcgan", "msg", "progressive", "fastgan")

# Settings each architecture trains best with, used when the user gives none of them.
# msg / progressive: equalised learning rate, so Adam with a larger step and beta1 = 0 (ProGAN, MSG-GAN);
# relativistic average hinge is MSG-GAN's loss (ours for the other two as well).
MODEL_DEFAULTS: dict[str, dict[str, Any]] = {
    "msg": dict(loss="rahinge", lr_g=1e-3, lr_d=1e-3, beta1=0.0, beta2=0.99, g_width=16, d_width=16),
    "progressive": dict(loss="rahinge", lr_g=1e-3, lr_d=1e-3, beta1=0.0, beta2=0.99, g_width=16, d_width=16),
    "fastgan": dict(loss="rahinge", lr_g=2e-4, lr_d=2e-4, beta1=0.5, beta2=0.999, g_width=8, d_width=8),
}


def check_highres(config: TrainConfig) -> None:
    """Raise GanforgeError for --aspect values or combinations that cannot work."""
    parse_aspect(config.aspect)
    if not is_square(config.aspect) and (config.model not in ASPECT_MODELS or config.conditional):
        what = "--conditional" if config.conditional else f"--model {config.model}"
        raise GanforgeError(f"--aspect {config.aspect}: non-square images work with --model "
                            f"{', '.join(ASPECT_MODELS)} (unconditional); not with {what}")


def apply_model_defaults(config: TrainConfig, given: set[str]) -> TrainConfig:
    """Fill the model's own defaults (MODEL_DEFAULTS) into every setting not in `given`."""
    defaults = {k: v for k, v in MODEL_DEFAULTS.get(config.model, {}).items() if k not in given}
    return replace(config, **defaults)


def count_images(source: str) -> int | None:
    """How many images a data source holds, without decoding them (None for an unknown source)."""
    from pathlib import Path

    from ganforge.data.builtin import BUILTIN_DATASETS
    from ganforge.data.load import load_dataset

    if source in BUILTIN_DATASETS:
        import inspect

        count = inspect.signature(BUILTIN_DATASETS.get(source)).parameters.get("count")
        if count is not None:  # shapes: its size is an argument; rendering 5,000 images to count them is slow
            return int(count.default)
        return len(load_dataset(source, 16, 3, quiet=True))
    path = Path(source).expanduser()
    if path.is_dir():
        from ganforge.data.folder import find_images

        return len(find_images(path))
    return None


def small_data_choice(config: TrainConfig, given: set[str]) -> tuple[TrainConfig, str | None]:
    """With no --model, 128 px and up and fewer than 5,000 images: the FastGAN-style model.
    Returns the config and the one line announcing the choice (None when nothing was chosen)."""
    config.validate()  # a bad flag is reported as itself, before any choice is announced
    if "model" in given or config.conditional or (config.resolution or 0) < SMALL_DATA_MIN_RESOLUTION:
        return config, None
    count = count_images(config.data)
    if count is None or count >= SMALL_DATA_IMAGES:
        return config, None
    line = (f"small data set ({count} images) at {config.resolution} px: using --model {SMALL_DATA_MODEL} "
            "(skip-layer excitation, DiffAugment); give --model to choose another")
    return replace(config, model=SMALL_DATA_MODEL), line
