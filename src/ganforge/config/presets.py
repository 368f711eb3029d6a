"""Recipe presets: the values a run uses for every setting you do not give yourself.

`plain` is the textbook baseline (DCGAN's settings for images, a vanilla MLP GAN for 2D points).
`recommended` is the recipe measured on the mode-collapse benchmarks (`ganforge bench modes`).
`auto` (the default) picks `recommended` for 2D point data and stacked digits, `plain` for the built-in
digits; for every other image source it picks by the data and the time budget (config/auto.py).
The built-in `digits` get the image recipe plus what was measured on them (40 InfoGAN latent categories).
config/resolver.py applies them: preset < the model's own defaults < --config file < the settings given.
"""

from __future__ import annotations

from typing import Any

from ganforge.config.choices import PRESETS as PRESET_NAMES
from ganforge.data.points import is_point_data
from ganforge.errors import GanforgeError

PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "points": {
        "plain": dict(model="mlp", latent_dim=2, g_width=128, d_width=128, batch_size=100, lr_g=1e-4, lr_d=1e-4,
                      precision="fp32", log_every=100, sample_every=1000, checkpoint_every=5000,
                      sample_count=1000),
        # measured on ring / grid (docs/toy-2d.md): a 10x higher learning rate and larger batches move G fast;
        # the EMA of G's weights averages out its oscillation around the modes, which is what makes samples precise;
        # PacGAN packing (D judges pairs) stops G dropping grid modes (grid seeds 0 / 3: 21 / 20 of 25 -> 25 / 25);
        # rates decaying over the second half of the run (of the time budget, with --max-minutes) sharpen the modes
        # (grid HQ up 0.6-3.1 points on all 5 seeds, ring unchanged within noise); a light R1 penalty on D
        # (Mescheder et al. 2018) keeps G's mass on every grid mode (seed 1 had kept dropping the centre column:
        # 21/25 -> 25/25, 5 of 5 seeds at >= 95% HQ instead of 4)
        "recommended": dict(model="mlp", latent_dim=2, g_width=128, d_width=128, batch_size=256, lr_g=1e-3,
                            lr_d=1e-3, precision="fp32", log_every=100, sample_every=1000, checkpoint_every=5000,
                            sample_count=1000, ema_beta=0.999, pack=2, lr_decay_start=0.5, r1_gamma=0.1),
    },
    "stacked-digits": {
        "plain": dict(g_width=32, d_width=32, log_every=100, sample_every=1000),
    },
    "images": {
        "plain": {},
        # measured on digits (docs/results.md, benchmarks/digits_quality.py): hinge loss + spectral norm on a D
        # without batch norm, nearest-neighbour upsampling in G and an EMA of G read 54-57% of samples confidently
        # at 3,000 steps and 71% at 10,000, against 45-46% for the DCGAN defaults (which flatten out near 50%)
        "recommended": dict(ema_beta=0.999, loss="hinge", spectral_norm=True, d_batchnorm=False, upsample="nearest"),
    },
}
# the unconditional DCGAN on digits blends between its 10 classes (docs/results.md): 40 InfoGAN categories give
# each digit (in one or more writing styles) its own, and Adam 4e-4 with betas (0, 0.99) moved faster; measured with
# benchmarks/digits_quality.py (10 / 20 / 40 / 64 categories: 83.8 / 86.3 / 89.2 / 87.8% at 3,500 steps, seed 0).
# G and D at width 48 (docs/results.md): a step costs ~0.6x width 64's, so the main command's 4,000 steps fit its
# 5-minute budget (4 min 46 s); 1,000-sample reads over seeds 0-4: mean 91.0% (90.0-92.7%; 90.4% before the
# faster stride-2 convs changed the rounding), against 89.7% (84.1-93.1%) for D alone at 48 with 3,500 steps (4 min
# 37 s) and 91.3% for width 64 with 3,500 steps (6 min 59 s); the Winograd layers are off for these widths
# (AccelPolicy, accel/)
FAST_ADAM = dict(lr_g=4e-4, lr_d=4e-4, beta1=0.0, beta2=0.99)
PRESETS["digits"] = {
    "plain": PRESETS["images"]["plain"],
    "recommended": {**PRESETS["images"]["recommended"], "latent_classes": 40, "g_width": 48, "d_width": 48,
                    **FAST_ADAM},
}
# measured with `ganforge bench modes --only stacked-digits` (docs/results.md): the DCGAN defaults let D overpower G
# (81 / 1000 modes); the image recipe keeps the two level, PacGAN packing (D judges pairs) spreads G over all 1000
# triples (KL 0.07-0.09 at width 32), and width 64 with the digits' Adam draws them evenly (KL 0.035-0.043, 5 seeds)
PRESETS["stacked-digits"]["recommended"] = {**PRESETS["stacked-digits"]["plain"], **PRESETS["images"]["recommended"],
                                            **FAST_ADAM, "g_width": 64, "d_width": 64, "pack": 2}
TTUR_RATES = dict(lr_g=1e-4, lr_d=4e-4)  # Heusel et al. 2017: D learns four times faster


def data_kind(data: str) -> str:
    if is_point_data(data):
        return "points"
    return data if data in ("stacked-digits", "digits") else "images"


def preset_values(data: str, preset: str = "auto", infogan: bool = True) -> dict[str, Any]:
    """The preset's settings for this data (with `preset` resolved from auto). The digits recipe is for a model
    that takes InfoGAN categories (`infogan`); the others get the image recipe (a conditional one knows the
    classes)."""
    if preset not in PRESET_NAMES:
        raise GanforgeError(f"--preset must be one of {', '.join(PRESET_NAMES)}, got {preset!r}")
    kind = data_kind(data)
    if kind == "digits" and not infogan:
        kind = "images"
    if preset == "auto":
        preset = "recommended" if kind in ("points", "stacked-digits") else "plain"
    return {**PRESETS[kind][preset], "preset": preset}
