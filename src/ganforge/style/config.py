"""Settings of one style-transfer run; every field is also a `ganforge stylize` flag (kebab-case)."""

from __future__ import annotations

from dataclasses import dataclass

from ganforge.errors import GanforgeError

OPTIMIZERS = ("lbfgs", "adam")
INITS = ("content", "noise", "style")
FEATURES = ("auto", "vgg19", "random")
DEFAULT_LR = {"lbfgs": 1.0, "adam": 0.02}


@dataclass
class StyleConfig:
    size: int = 512  # longer side of the output, in pixels
    steps: int = 200  # optimisation steps at the finest scale
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

    def validate(self, style_count: int = 1) -> StyleConfig:
        """Raise GanforgeError naming the flag for any value that cannot work."""
        positive = {"size": self.size, "steps": self.steps, "style-scale": self.style_scale,
                    "min-scale-size": self.min_scale_size}
        for flag, value in positive.items():
            if not value > 0:
                raise GanforgeError(f"--{flag} must be positive, got {value}")
        if self.size < 16:
            raise GanforgeError(f"--size {self.size} is too small (at least 16 pixels)")
        if self.scales < 0 or self.save_every < 0:
            raise GanforgeError("--scales and --save-every must be zero or positive")
        if self.lr is not None and not self.lr > 0:
            raise GanforgeError(f"--lr must be positive, got {self.lr}")
        for flag, value in {"content-weight": self.content_weight, "style-weight": self.style_weight,
                            "style-strength": self.style_strength, "tv-weight": self.tv_weight}.items():
            if value < 0:
                raise GanforgeError(f"--{flag} must be zero or positive, got {value}")
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
            if values is not None and (min(values) < 0 or sum(values) <= 0):
                raise GanforgeError(f"--{flag} must be zero or positive and not all zero, got {list(values)}")
        if self.content_layers is not None and not self.content_layers and self.content_weight > 0:
            raise GanforgeError("--content-layers is empty; give at least one layer or --content-weight 0")
        if self.style_layers is not None and not self.style_layers:
            raise GanforgeError("--style-layers is empty; give at least one layer")
        return self
