"""accelerate(model, policy): the one call that puts faster forms in place of a built network's plain layers."""

from __future__ import annotations

from torch import nn

from ganforge.accel.linear_ends import LatentStem, WholeInputConv
from ganforge.accel.nearest import NearestConv, NearestEqualConv2d
from ganforge.accel.policy import AccelPolicy
from ganforge.accel.stride2 import Stride2Conv2d, Stride2ConvTranspose2d
from ganforge.models.scaled import EqualConv2d


def accelerate(model: nn.Module, policy: AccelPolicy) -> nn.Module:
    """Swap `model`'s plain layers for the faster forms `policy` allows, in place (as
    torch.nn.SyncBatchNorm.convert_sync_batchnorm does), and return it.

    The network keeps its parameters (the same tensors), state-dict keys and function (to float rounding). Only
    layers of exactly the plain classes are swapped: a layer under spectral norm (a parametrized class) stays as it
    is, so call this before apply_spectral_norm, which then wraps the faster forms alike. Call it on each network
    apart: a network's first and last convs are taken as the layers that meet its images.
    """
    convs = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, EqualConv2d))]
    image_layers = [convs[0], convs[-1]] if convs else []

    def matmul_grad(layer: nn.Module) -> bool:
        return not any(layer is image_layer for image_layer in image_layers)

    if policy.fold_nearest:
        for sequence in [m for m in model.modules() if isinstance(m, nn.Sequential)]:
            for i in range(len(sequence) - 1):
                upsample, conv = sequence[i], sequence[i + 1]
                form = next((f for f in (NearestConv, NearestEqualConv2d) if f.fits(conv)), None)
                if form is not None and _is_nearest_x2(upsample):
                    sequence[i] = nn.Identity()  # no parameters: the keys keep their indices
                    form.convert(conv, policy, matmul_grad=matmul_grad(conv))
    for layer in list(model.modules()):
        if policy.stride2_forms and Stride2Conv2d.fits(layer):
            Stride2Conv2d.convert(layer, policy, matmul_grad=matmul_grad(layer))
        elif policy.stride2_forms and Stride2ConvTranspose2d.fits(layer):
            Stride2ConvTranspose2d.convert(layer, policy, matmul_grad=matmul_grad(layer))
        elif policy.linear_ends and WholeInputConv.fits(layer):
            WholeInputConv.convert(layer, policy)
        elif policy.linear_ends and LatentStem.fits(layer):
            LatentStem.convert(layer, policy)
    return model


def _is_nearest_x2(module: nn.Module) -> bool:
    if type(module) is not nn.Upsample or module.mode != "nearest" or module.size is not None:
        return False
    factors = module.scale_factor if isinstance(module.scale_factor, tuple) else (module.scale_factor,) * 2
    return all(float(f) == 2.0 for f in factors)
