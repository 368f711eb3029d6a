"""pix2pix networks by name: a U-Net generator and a PatchGAN discriminator that sees cat(input, output)."""

from __future__ import annotations

from typing import Any

from torch import nn

from ganforge.errors import GanforgeError
from ganforge.models.patchgan import PatchDiscriminator, strided_layers_for
from ganforge.models.registry import register
from ganforge.models.spec import ModelSpec
from ganforge.models.unet import UNetGenerator


def check_settings(cfg: Any) -> None:
    """The pix2pix settings that cannot work together (numeric ranges: config/ranges.py)."""
    strided_layers_for(cfg.patch_size)
    if cfg.l1_weight == 0 and cfg.adversarial_weight == 0:
        raise GanforgeError("--l1-weight and --adversarial-weight are both 0: G would have nothing to learn")
    if cfg.balance in ("skip", "adaptive") and cfg.adversarial_weight == 0:
        raise GanforgeError(f"--balance {cfg.balance}: with --adversarial-weight 0 there is no duel to balance; "
                            "use --balance fixed")


# D judges (input, output) pairs patch by patch: the D-input stabilisers of noise-to-image GANs do not apply
SPEC = ModelSpec(
    name="pix2pix", summary="pix2pix: image-to-image translation from pairs (U-Net G, PatchGAN D)",
    recipe="pix2pix", sections=("pix2pix",), inputs="image", check=check_settings,
    scored_by="on held-out pairs at the end of training (and by ganforge eval-translation)",
    own_settings=("loss", "spectral_norm", "d_batchnorm", "upsample"),
    refuses=("pack", "minibatch_std", "instance_noise", "r1_gamma", "augment=ada", "augment=fixed", "loss=wgan-gp"),
    supports="it supports --spectral-norm, --label-smoothing and --balance fixed/ttur/skip/adaptive",
    example_args=dict(resolution=16, in_channels=1, out_channels=1, g_width=4, d_width=4, patch_size=16),
)


@register(SPEC)
def build_pix2pix(resolution: int = 256, in_channels: int = 3, out_channels: int = 3, g_width: int = 64,
                  d_width: int = 64, patch_size: int = 70, dropout: float = 0.5) -> tuple[nn.Module, nn.Module]:
    G = UNetGenerator(in_channels, out_channels, resolution, g_width, dropout)
    D = PatchDiscriminator(in_channels + out_channels, d_width, patch_size)
    return G, D
