"""Settings of one style-transfer run; every field is also a `ganforge stylize` flag (kebab-case)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ganforge.config.ranges import SEED, THREADS, Range, check_number
from ganforge.errors import GanforgeError

OPTIMIZERS = ("lbfgs", "adam")
INITS = ("content", "noise", "style")
FEATURES = ("auto", "vgg19", "random")
DEFAULT_LR = {"lbfgs": 1.0, "adam": 0.02}
MAX_SIDE = 4096  # px, the output's and the style image's longer side: VGG19 features of 4096 x 4096 take ~4 GB

# Allowed ranges: values that cannot work, and values so large they can only be typos that would exhaust memory
# or never finish (config/ranges.py does the same for training).
STYLE_RANGES = {
    "size": Range(16, MAX_SIDE),
    "steps": Range(1, 100_000),
    "scales": Range(0, 8),  # 0: automatic
    "min_scale_size": Range(16, MAX_SIDE),
    "lr": Range(0, 1000, whole=False, low_open=True, example="1.0 for lbfgs, 0.02 for adam"),
    "content_weight": Range(0, 1e9, whole=False, example="1"),
    "style_weight": Range(0, 1e9, whole=False, example="10"),
    "style_strength": Range(0, 1000, whole=False, example="2 for more style"),
    "tv_weight": Range(0, 1e9, whole=False, example="1"),
    "style_scale": Range(0, 8, whole=False, low_open=True, example="0.5 for finer strokes"),
    "seed": SEED,
    "save_every": Range(0, 100_000),  # 0: never
    "threads": THREADS,  # 0: chosen by timing the first steps
}


@dataclass
class StyleConfig:
    size: int = 512  # longer side of the output, in pixels
    steps: int = 150  # optimisation steps at the finest scale; each coarser scale runs twice as many
    scales: int = 0  # coarse-to-fine levels; 0 = automatic (halve until the longer side is < 2 * min_scale_size)
    min_scale_size: int = 128  # coarsest level's longer side when scales is automatic
    optimizer: str = "lbfgs"
    lr: float | None = None  # None: 1.0 for lbfgs, 0.02 for adam
    features: str = "auto"  # vgg19 needs the ImageNet weights; random needs nothing; auto: vgg19 if available
    weights: str | None = None  # a local VGG19 weight file (torchvision's vgg19-dcbb9e9d.pth)
    download: bool = True  # allow downloading the VGG19 weights into the torch hub cache
    content_layers: tuple[str, ...] | None = None  # None: the feature network's defaults
    style_layers: tuple[str, ...] | None = None
    style_layer_weights: tuple[float, ...] | None = None  # one per style layer; None: equal
    style_blend: tuple[float, ...] | None = None  # one per style image; None: equal
    content_weight: float = 1.0
    style_weight: float = 10.0
    style_strength: float = 1.0  # the one knob for users: multiplies style_weight
    tv_weight: float = 1.0
    init: str = "content"
    preserve_colour: bool = False  # transfer luminance only and keep the content's colours
    style_scale: float = 1.0  # style image's longer side relative to the output's
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"  # fp32, bf16 or auto (bf16 where the hardware has native kernels)
    save_every: int = 0  # write an intermediate image every N steps (0: never)
    threads: int = 0  # CPU threads; 0: the fastest count, found by timing steps (ganforge/threads.py)

    def validate(self, style_count: int = 1) -> StyleConfig:
        """Raise GanforgeError naming the flag for any value that cannot work."""
        for name, allowed in STYLE_RANGES.items():
            value = getattr(self, name)
            if value is not None or name != "lr":  # lr None: the optimiser's default
                check_number("--" + name.replace("_", "-"), value, allowed)
        if round(self.size * self.style_scale) > MAX_SIDE:
            raise GanforgeError(f"--size {self.size} x --style-scale {self.style_scale:g} makes the style image "
                                f"{round(self.size * self.style_scale):,} px; at most {MAX_SIDE:,}")
        for flag, value, choices in (("optimizer", self.optimizer, OPTIMIZERS), ("init", self.init, INITS),
                                     ("features", self.features, FEATURES)):
            if value not in choices:
                raise GanforgeError(f"--{flag} {value!r}: choose from {', '.join(choices)}")
        if self.style_layer_weights is not None and self.style_layers is None:
            raise GanforgeError("--style-layer-weights needs --style-layers (one weight per layer)")
        if self.style_layer_weights is not None and len(self.style_layer_weights) != len(self.style_layers):
            raise GanforgeError(f"--style-layer-weights has {len(self.style_layer_weights)} values for "
                                f"{len(self.style_layers)} style layers")
        if self.style_blend is not None and len(self.style_blend) != style_count:
            raise GanforgeError(f"--style-blend has {len(self.style_blend)} values for {style_count} style images")
        for flag, values in (("style-layer-weights", self.style_layer_weights), ("style-blend", self.style_blend)):
            if values is not None and (not values or not all(math.isfinite(v) and v >= 0 for v in values)
                                       or sum(values) <= 0):
                raise GanforgeError(f"--{flag} must be zero or positive numbers, not all zero, got {list(values)}")
        if self.content_layers is not None and not self.content_layers and self.content_weight > 0:
            raise GanforgeError("--content-layers is empty; give at least one layer or --content-weight 0")
        if self.style_layers is not None and not self.style_layers:
            raise GanforgeError("--style-layers is empty; give at least one layer")
        return self
