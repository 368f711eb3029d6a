"""A run's settings checked before any compute: one-line errors naming the flag.

What each model takes or refuses is read from its spec (models/spec.py); numeric ranges from ranges.py.
Works on any object with TrainConfig's fields (it does not import TrainConfig, which calls it).
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from ganforge.config.choices import (
    AUGMENT_MODES,
    BALANCE_POLICIES,
    CHANNELS,
    DEVICES,
    EVAL_METRICS,
    PRECISIONS,
    PRESETS,
    choices,
)
from ganforge.config.ranges import TRAIN_RANGES, check_number
from ganforge.config.sections import ALWAYS, SECTION_SWITCHES, SECTIONS, flag_name
from ganforge.errors import GanforgeError
from ganforge.models.registry import model_spec, model_specs
from ganforge.models.spec import ModelSpec


def check_config(cfg: Any) -> None:
    """Raise GanforgeError naming the flag for any value, or combination, that cannot work."""
    _check_types(cfg)
    _check_values(cfg)
    spec = spec_for(cfg)
    _check_model(cfg, spec)
    _check_combinations(cfg, spec)
    if spec.check is not None:
        spec.check(cfg)


def _defaults(cfg: Any) -> dict[str, Any]:
    return {f.name: f.default for f in fields(cfg)}


def _check_types(cfg: Any) -> None:
    """A JSON config can hold anything: text and yes/no settings get checked too."""
    for f in fields(cfg):
        value = getattr(cfg, f.name)
        if f.type == "str" and not isinstance(value, str):
            raise GanforgeError(f"{flag_name(f.name)} must be text, got {value!r}")
        if f.type == "bool" and not isinstance(value, bool):
            raise GanforgeError(f"{flag_name(f.name)} must be true or false, got {value!r}")
        if f.type == "str | None" and value is not None and not isinstance(value, str):
            raise GanforgeError(f"{flag_name(f.name)} must be text, got {value!r}")
    optional = {f.name for f in fields(cfg) if f.default is None}
    for name, allowed in TRAIN_RANGES.items():
        value = getattr(cfg, name)
        if not (value is None and name in optional):
            check_number(flag_name(name), value, allowed)


def _one_of(field: str, value: Any, allowed: Any) -> None:
    if value not in allowed:
        raise GanforgeError(f"{flag_name(field)} must be one of {', '.join(map(str, allowed))}, got {value!r}")


def _check_values(cfg: Any) -> None:
    if cfg.resolution is not None and (cfg.resolution & (cfg.resolution - 1)):
        raise GanforgeError(f"--resolution must be a power of two from 16 to 256, got {cfg.resolution}")
    if cfg.channels is not None:
        _one_of("channels", cfg.channels, CHANNELS)
    if cfg.eval_extractor == "data" and cfg.eval_metric != "kid":
        raise GanforgeError(f"--eval-extractor data scores KID only (the folder's own features); use --eval-metric "
                            f"kid, not {cfg.eval_metric}")
    if cfg.device not in DEVICES and not cfg.device.startswith("cuda:"):
        raise GanforgeError(f"--device must be auto, cpu, cuda, cuda:N or mps, got {cfg.device!r}")
    for field, allowed in (("precision", PRECISIONS), ("preset", PRESETS), ("augment", AUGMENT_MODES),
                           ("balance", BALANCE_POLICIES), ("eval_metric", EVAL_METRICS),
                           ("upsample", choices("upsample")), ("direction", choices("direction")),
                           ("d_arch", choices("d_arch")), ("g_arch", choices("g_arch"))):
        _one_of(field, getattr(cfg, field), allowed)
    if cfg.loss not in choices("loss"):
        import difflib

        close = difflib.get_close_matches(cfg.loss, choices("loss"), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise GanforgeError(f"--loss: unknown loss {cfg.loss!r}.{hint} Choose from: {', '.join(choices('loss'))}")
    from ganforge.aspect import parse_aspect

    parse_aspect(cfg.aspect)


def spec_for(cfg: Any, strict: bool = True) -> ModelSpec | None:
    """The spec of the model this run trains: --conditional picks the model's conditional variant.
    strict=False: None instead of an error (for describing a config that may not validate)."""
    try:
        spec = model_spec(cfg.model)
        if not spec.pickable:
            raise GanforgeError(f"--model {cfg.model} is chosen by the other settings: use {spec.instead}")
        if cfg.conditional:
            if spec.points:
                raise GanforgeError("--conditional needs class labels; 2D point data has none")
            if spec.inputs == "image":
                raise GanforgeError(f"--conditional is for noise-to-image models; --model {cfg.model} is "
                                    "conditioned on its input image already")
            if not spec.conditional:
                with_it = [s.name for s in model_specs() if s.conditional]
                raise GanforgeError(f"--conditional is not available for --model {cfg.model}; use "
                                    f"--model {' or '.join(with_it)}")
            spec = model_spec(spec.conditional)
        return spec
    except GanforgeError:
        if strict:
            raise
        return None


def _who(spec: ModelSpec) -> str:
    return spec.instead or f"--model {spec.name}"


def _check_model(cfg: Any, spec: ModelSpec) -> None:
    """The data this model needs, and the options and sections it takes."""
    from ganforge.data.points import is_point_data

    if spec.points and not is_point_data(cfg.data):
        raise GanforgeError(f"--model {cfg.model} is for 2D point data: --data ring, grid or an (N, 2) .npy file")
    if is_point_data(cfg.data) and not spec.points:
        points = [s.name for s in model_specs() if s.points and s.pickable]
        raise GanforgeError(f"--data {cfg.data} is 2D point data: it needs --model {' or '.join(points)} "
                            "(`ganforge train` picks it, via the recommended preset)")
    if cfg.channels == 4 and (spec.inputs == "image" or spec.points):
        raise GanforgeError(f"--channels 4 (transparency) is for noise-to-image models; --model {cfg.model} takes "
                            "1 or 3")
    defaults = _defaults(cfg)
    refused = []
    for f in fields(cfg):
        value = getattr(cfg, f.name)
        if spec.refused(f.name, value, defaults[f.name]):
            by_value = any(entry.startswith(f"{f.name}=") for entry in spec.refuses)
            refused.append(f"{flag_name(f.name)} {value}" if by_value else flag_name(f.name))
    _check_architectures(cfg, spec)
    if refused:
        raise GanforgeError(f"{', '.join(refused)}: not available for {_who(spec)}"
                            + (f"; {spec.supports}" if spec.supports else ""))
    unused = [f.name for f in fields(cfg) if f.metadata["section"] not in ALWAYS
              and f.metadata["section"] not in spec.sections and getattr(cfg, f.name) != defaults[f.name]]
    if unused:
        section = fields_section(cfg, unused[0])
        if section == "evaluation" and spec.scored_by:
            named = "" if unused == ["eval_every"] else f"{', '.join(map(flag_name, unused))}: "
            raise GanforgeError(f"{named}--eval-every scores noise-to-image generators; {_who(spec)} runs are scored "
                                f"{spec.scored_by}")
        first = unused[0]  # named for the models that take it (not those that share its section but refuse it)
        users = [s.name for s in model_specs() if s.pickable and section in s.sections
                 and not s.refused(first, getattr(cfg, first), defaults[first])]
        raise GanforgeError(f"{', '.join(map(flag_name, unused))}: a setting of --model {', '.join(users)}, not of "
                            f"{_who(spec)}")
    from ganforge.aspect import is_square

    if not is_square(cfg.aspect) and not spec.aspect:
        takes = [s.name for s in model_specs() if s.aspect and s.pickable]
        raise GanforgeError(f"--aspect {cfg.aspect}: non-square images work with --model {', '.join(takes)} "
                            f"(unconditional); not with {_who(spec)}")
    from ganforge.losses.relativistic import RELATIVISTIC_LOSSES

    if cfg.loss in RELATIVISTIC_LOSSES and not spec.relativistic:
        takes = [s.name for s in model_specs() if s.relativistic and s.pickable]
        plain = [name for name in choices("loss") if name not in RELATIVISTIC_LOSSES]
        raise GanforgeError(f"--loss {cfg.loss} works with --model {', '.join(takes)}; for {cfg.model} choose "
                            f"{', '.join(plain)}")


ARCHITECTURE_FIELDS = ("d_arch", "g_arch")  # taken by the models whose builder has the argument


def _check_architectures(cfg: Any, spec: ModelSpec) -> None:
    """--d-arch / --g-arch set for a model whose builder does not take them (every model but those that build
    the backbones, so a new model is refused until it does)."""
    from ganforge.models.registry import model_parameters

    defaults = _defaults(cfg)
    for name in ARCHITECTURE_FIELDS:
        if getattr(cfg, name) != defaults[name] and name not in model_parameters(spec.name):
            takes = [s.name for s in model_specs() if s.pickable and name in model_parameters(s.name)]
            raise GanforgeError(f"{flag_name(name)} {getattr(cfg, name)}: not available for {_who(spec)}; "
                                f"{flag_name(name)} chooses the networks of --model {' or '.join(takes)} (with or "
                                "without --conditional)")


def fields_section(cfg: Any, name: str) -> str:
    return next(f.metadata["section"] for f in fields(cfg) if f.name == name)


def _check_combinations(cfg: Any, spec: ModelSpec) -> None:
    """Settings that cannot work together, whatever the model."""
    from ganforge.losses.relativistic import RELATIVISTIC_LOSSES

    if cfg.loss not in RELATIVISTIC_LOSSES and cfg.label_smoothing:
        from ganforge.losses.factory import make_loss

        make_loss(cfg.loss, cfg.label_smoothing)  # smoothing a loss without labels
    if cfg.batch_size % cfg.pack:
        raise GanforgeError(f"--batch-size {cfg.batch_size} must be a multiple of --pack {cfg.pack}")
    if cfg.d_steps > 1 and cfg.balance not in ("fixed", "ttur"):
        raise GanforgeError(f"--d-steps works with --balance fixed or ttur, not {cfg.balance}")
    if cfg.balance == "ttur" and cfg.lr_d == cfg.lr_g:
        raise GanforgeError("--balance ttur needs different learning rates: set --lr-d above --lr-g (e.g. 4e-4, 1e-4)")
    if cfg.latent_classes:
        if cfg.pack > 1:
            raise GanforgeError("--latent-classes needs D to see one image at a time: drop --pack")
        if cfg.latent_classes < 2 or cfg.latent_classes >= cfg.latent_dim:
            raise GanforgeError(f"--latent-classes must be at least 2 and below --latent-dim ({cfg.latent_dim}), "
                                f"got {cfg.latent_classes}")


def applicable_sections(cfg: Any) -> list[str]:
    """The sections of this run: the common ones, and each optional one its model uses and has switched on."""
    spec = spec_for(cfg, strict=False)
    used = set(spec.sections) if spec is not None else set(SECTIONS)
    defaults = _defaults(cfg)
    shown = []
    for name in SECTIONS:
        switch = SECTION_SWITCHES.get(name)
        if name in ALWAYS or (name in used and (switch is None or getattr(cfg, switch) != defaults[switch])):
            shown.append(name)
    return shown
