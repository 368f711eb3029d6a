"""AccelPolicy: which faster forms `accelerate` may put in place of a network's plain layers."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class AccelPolicy:
    """The faster forms a network may take; every one computes its plain layer's function with its parameters.

    The defaults are the forms measured faster on CPU (figures: docs/speed.md). Which layers qualify by map size is
    read from each call's input (a layer sees one map size per resolution), so one policy fits every resolution;
    which dtype a call runs in is autocast's, read per call too.
    """

    # nn.Upsample(x2, nearest) + 3x3 conv as the identical stride-2 transposed conv on the small map (folded kernel)
    fold_nearest: bool = True
    # convs whose kernel covers their whole input (D's heads) and transposed convs from a 1x1 input (G's stem) as the
    # identical linear layers
    linear_ends: bool = True
    # 4x4 stride-2 transposed convs with at most this many output channels (G's last layer; the input gradient of a
    # conv with that few inputs) as a 3x3 conv to 4x the channels + pixel shuffle; 0: never
    subpixel_max_outputs: int = 4
    # the weight gradient of 4x4 stride-2 layers as one matrix product, in these dtypes, where the larger map's shorter
    # side is at most matmul_grad_max_px; never for a network's first and last conv (the image layers, not measured)
    matmul_grad_dtypes: tuple[torch.dtype, ...] = (torch.bfloat16,)
    matmul_grad_max_px: int = 16
    # 4x4 stride-2 layers by Winograd's F(2x2, 2x2), in these dtypes, where the larger map's longer side is at most
    # winograd_max_px and both channel counts are at least winograd_min_channels; supersedes the matmul gradient there
    winograd_dtypes: tuple[torch.dtype, ...] = (torch.bfloat16,)
    winograd_max_px: int = 16
    winograd_min_channels: int = 128

    def __post_init__(self) -> None:
        for name in ("matmul_grad_dtypes", "winograd_dtypes"):
            dtypes = getattr(self, name)
            if not (isinstance(dtypes, tuple) and all(isinstance(d, torch.dtype) for d in dtypes)):
                raise TypeError(f"AccelPolicy.{name} must be a tuple of torch dtypes, got {dtypes!r}")
        for name in ("subpixel_max_outputs", "matmul_grad_max_px", "winograd_max_px", "winograd_min_channels"):
            if getattr(self, name) < 0:
                raise ValueError(f"AccelPolicy.{name} must be >= 0, got {getattr(self, name)}")

    @classmethod
    def plain(cls) -> AccelPolicy:
        """No faster form: accelerate() leaves every layer as it is."""
        return cls(fold_nearest=False, linear_ends=False, subpixel_max_outputs=0, matmul_grad_dtypes=(),
                   winograd_dtypes=())

    @classmethod
    def for_device(cls, device: torch.device | str) -> AccelPolicy:
        """The defaults on CPU. Elsewhere (CUDA) only the folds that are plain torch ops there too (the nearest fold
        runs as torch's transposed conv, the linear ends as matmuls); the stride-2 forms are CPU kernels."""
        if torch.device(device).type == "cpu":
            return cls()
        return dataclasses.replace(cls(), subpixel_max_outputs=0, matmul_grad_dtypes=(), winograd_dtypes=())

    @property
    def stride2_forms(self) -> bool:
        """Whether any stride-2 form is on (else 4x4 stride-2 layers stay as they are)."""
        return bool(self.subpixel_max_outputs or self.matmul_grad_dtypes or self.winograd_dtypes)
