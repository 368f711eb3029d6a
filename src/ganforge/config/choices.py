"""The values a text setting may take: checked by the config's validation and shown by --help."""

from __future__ import annotations

PRESETS = ("auto", "plain", "recommended")
AUGMENT_MODES = ("auto", "off", "ada", "fixed")
BALANCE_POLICIES = ("fixed", "ttur", "skip", "adaptive")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
DEVICES = ("auto", "cpu", "cuda", "mps")  # and cuda:N
RESOLUTIONS = (16, 32, 64, 128, 256)
CHANNELS = (1, 3, 4)  # 4: RGBA, transparency as a fourth channel
EVAL_METRICS = ("fid", "kid", "precision", "recall", "density", "coverage", "is", "copies")  # metrics/evaluate.py


def losses() -> list[str]:
    from ganforge.losses.adversarial import LOSSES
    from ganforge.losses.relativistic import RELATIVISTIC_LOSSES

    return LOSSES.names() + RELATIVISTIC_LOSSES.names()


def choices(field: str) -> list | None:
    """The allowed values of a setting, or None for a free-form or numeric one."""
    if field == "model":
        from ganforge.models.registry import pickable_models

        return pickable_models()
    if field == "loss":
        return losses()
    if field == "upsample":
        from ganforge.models.dcgan import UPSAMPLE_MODES

        return list(UPSAMPLE_MODES)
    if field in ("d_arch", "g_arch"):
        from ganforge.models.backbones import D_ARCHS, G_ARCHS

        return list(D_ARCHS if field == "d_arch" else G_ARCHS)
    if field == "generator":
        from ganforge.models.cyclegan import GENERATORS

        return list(GENERATORS)
    if field == "direction":
        from ganforge.data.paired import DIRECTIONS

        return list(DIRECTIONS)
    fixed = {"preset": PRESETS, "augment": AUGMENT_MODES, "balance": BALANCE_POLICIES, "precision": PRECISIONS,
             "resolution": RESOLUTIONS, "channels": CHANNELS, "eval_metric": EVAL_METRICS}
    return list(fixed[field]) if field in fixed else None

# Below this many images a data set is small: `--augment auto` turns on adaptive augmentation, and without
# --model (and with the preset left to auto) a model that picks itself for small data (ModelSpec.small_data_from,
# FastGAN) is chosen.
SMALL_DATA_IMAGES = 5_000
