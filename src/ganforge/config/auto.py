"""`--preset auto` for image data: a recipe picked from the data in hand and the time budget.

What it looks at: the resolution, the number of images, the channels, whether the run is conditional (and
whether the folder has class sub-folders), the model if one is given, and `--max-minutes`. What it decides:

- **Model.** At 64 px and up, an unconditional run trains FastGAN (skip-layer excitation, spectral norm and
  DiffAugment in D, rahinge loss; widths 8). Measured on Debian's Tux Paint stamps at 64 px with 1.5 CPU
  minutes on one thread (docs/architectures.md): KID x1000 2377 ± 447 against 7587 ± 837 for DCGAN with the
  hinge / spectral-norm recipe; in the same CPU time it takes ~2x DCGAN's images, and its D augments its own
  inputs, which a few hundred images need. Not yet confirmed on shapes: with 1.5 CPU minutes on a loaded
  machine (one seed, 83 FastGAN steps against 30 DCGAN steps) DCGAN scored 582 against FastGAN's 813, too few
  steps for either to draw anything; docs/own-images.md has the folders' benchmark. Below 64 px, and for
  conditional runs (FastGAN has no conditional form), DCGAN.
- **Loss, regularisation, optimiser (DCGAN).** The image recipe measured on digits (docs/results.md): hinge loss,
  spectral norm on a D without batch norm, nearest-neighbour upsampling, Adam 4e-4 with betas (0, 0.99)
  (54-57% of samples read at 3,000 steps against 45-46% for the textbook settings).
- **Augmentation.** FastGAN's D applies DiffAugment (colour, translation, cutout) itself; DCGAN gets ADA below
  5,000 images (`--augment auto`), nothing above.
- **EMA.** Always an EMA of G (beta 0.999, with the warm-up of training/ema.py): the raw G oscillates, the
  average draws the sharper samples on every data set measured. With only `--max-minutes`, the run measures
  its speed in its first steps and shortens the average's horizon to a fraction of the steps the budget
  will give (training/time_plan.py), and spaces its sample grids and checkpoints over the budget.
- **Batch size and learning rates** stay those of the model picked (64; FastGAN 2e-4, DCGAN 4e-4).

What it does not yet decide, for want of measurements: widths and batch size by budget, R1 instead of spectral
norm, and anything from the labels of an unconditional run (it says when a folder has classes that
`--conditional` could use). Other models given with `--model` keep their own recipe (the `plain` preset); the
built-in digits, stacked digits and 2D points keep the choices of config/presets.py. Settings given always win.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

AUTO_FROM_RESOLUTION = 64  # FastGAN from this size up (measured at 64 px; it was picked at 128 px before)
AUTO_EMA = 0.999
FAST_ADAM = dict(lr_g=4e-4, lr_d=4e-4, beta1=0.0, beta2=0.99)
DCGAN_RECIPE = dict(loss="hinge", spectral_norm=True, d_batchnorm=False, upsample="nearest", ema_beta=AUTO_EMA,
                    **FAST_ADAM)
DCGAN_FAMILY = ("dcgan",)  # models the DCGAN recipe above applies to


@dataclass(frozen=True)
class DataShape:
    """What auto reads about a run before any image is decoded."""

    resolution: int
    channels: int
    images: int | None  # None: not counted (an unknown source)
    classes: int  # class sub-folders (or a labelled built-in set's classes); 0: none
    conditional: bool
    minutes: float | None  # --max-minutes when it is the run's only length, else None


@dataclass(frozen=True)
class AutoChoice:
    model: str
    values: dict[str, Any]
    reason: str

    def line(self) -> str:
        """The one line a run prints at its start and keeps in its folder."""
        return f"auto: chose {self.reason}"


def choose(shape: DataShape, model: str | None = None) -> AutoChoice:
    """The recipe for this data (and the model if one was given)."""
    size = (f"{shape.images:,} images" if shape.images is not None else "images") + \
        f" at {shape.resolution} px, {shape.channels} channel{'s' if shape.channels > 1 else ''}"
    classes = ""
    if shape.classes > 1 and not shape.conditional:
        classes = f"; its {shape.classes} class folders are not used (--conditional would)"
    budget = ""
    if shape.minutes:
        budget = (f"; {shape.minutes:g}-minute budget: the EMA horizon, sample grids and checkpoints are planned "
                  "from the speed measured in the first steps")
    if model is None:
        model = "dcgan" if shape.conditional or shape.resolution < AUTO_FROM_RESOLUTION else "fastgan"
        why = ("conditional (FastGAN has no conditional form)" if shape.conditional else
               f"below {AUTO_FROM_RESOLUTION} px" if model == "dcgan" else
               f"at {AUTO_FROM_RESOLUTION} px and up it drew closest to held-out Tux Paint stamps in equal CPU time")
    else:
        why = "given with --model"
    if model == "fastgan":
        what = f"fastgan (rahinge, spectral norm + DiffAugment in D, EMA {AUTO_EMA})"
        values: dict[str, Any] = dict(ema_beta=AUTO_EMA)
    elif model in DCGAN_FAMILY:
        small = shape.images is not None and shape.images < 5000
        what = (f"dcgan with hinge loss, spectral norm, no batch norm in D, Adam 4e-4 betas (0, 0.99), EMA {AUTO_EMA}"
                f"{', ADA augmentation' if small else ''}")
        values = dict(DCGAN_RECIPE)
    else:  # r3gan, msg, pix2pix, ...: measured with their own recipes, which auto leaves as they are
        what = f"{model} with its own recipe"
        values = {}
    return AutoChoice(model, values, f"{what} because {size}, {why}{classes}{budget}")
