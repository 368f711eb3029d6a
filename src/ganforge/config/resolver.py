"""One place decides a run's settings: `resolve_config`, called by `ganforge train` and `ganforge.train` alike.

Precedence, lowest first: the preset (auto picks one for the data) < the model's own defaults
(ModelSpec.defaults) < a --config file < the settings given. Then, for what is still open: the model
for a small data set at high resolution, the data's natural resolution and channels, and `augment auto`
from the data's size. The result is validated as a whole.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from ganforge.config.auto import AutoChoice, DataShape, choose
from ganforge.config.checks import spec_for
from ganforge.config.choices import SMALL_DATA_IMAGES
from ganforge.config.presets import TTUR_RATES, data_kind, preset_values
from ganforge.config.train_config import FIELDS, TrainConfig, defaults, flat_settings
from ganforge.data.points import is_point_data
from ganforge.errors import GanforgeError
from ganforge.models.registry import model_specs
from ganforge.models.spec import ModelSpec

LENGTH_FIELDS = ("total_steps", "epochs", "max_minutes")  # a resumed run may get a new length
# where and how a resumed run computes, logs and saves: none of them changes what it learns
RUNTIME_FIELDS = ("device", "precision", "threads", "log_every", "sample_every", "checkpoint_every", "eval_every",
                  "tensorboard", "nan_retries")
RESUMABLE_FIELDS = LENGTH_FIELDS + RUNTIME_FIELDS


def resolve_config(request: Mapping[str, Any] | TrainConfig, base: Mapping[str, Any] | None = None, *,
                   images: int | None = None, notify: Callable[[str], None] | None = None) -> TrainConfig:
    """The complete, validated TrainConfig for a request.

    request: the settings given (TrainConfig field names; a TrainConfig counts as the fields it was made
    with); base: a config file's settings, flat or in sections, under the request; images: the data's
    size when the caller already knows it (else counted when needed); notify: receives the one line
    announcing a model chosen for small data. The same request gives the same config from anywhere.
    """
    given = {**flat_settings(dict(base or {}), "config file"), **_settings(request)}
    for name in ("data", "preset", "model"):  # read to choose the model, before validation checks types
        if name in given and not isinstance(given[name], str):
            raise GanforgeError(f"{name} must be a string, got {given[name]!r:.60}")
    data = given.get("data", FIELDS["data"].default)
    preset_name = given.get("preset", FIELDS["preset"].default)
    by_data = preset_name == "auto" and data_kind(data) == "images" and given.get("model") != "mlp"
    # a resolved config resolved again (every setting given) keeps its choice without counting the data again
    auto = _auto_choice(given, data, images) if by_data and not set(FIELDS) <= set(given) else None
    if auto is not None:
        model, announcement = auto.model, auto.line()
    else:
        model, announcement = _choose_model(given, data, preset_name, images)
    spec = spec_for(TrainConfig(**{**defaults(), **given, "model": model}))
    preset = preset_values(data, preset_name, infogan="infogan" in spec.sections)
    if by_data:
        preset = {**preset, **(auto.values if auto is not None else {}), "preset": "auto"}
    unset = defaults()
    values = {k: v for k, v in preset.items() if k not in spec.own_settings and not spec.refused(k, v, unset[k])}
    values.update(spec.defaults)
    if given.get("balance", values.get("balance")) == "ttur":
        values.update(TTUR_RATES)  # D four times faster than G, unless the rates are given
    values.update(given)
    if given.get("eval_extractor") == "data":  # the folder's own KID: cheap by design (training/evaluation.py)
        values.update({"eval_metric": "kid", "eval_samples": 500, **{k: v for k, v in given.items()
                                                                     if k in ("eval_metric", "eval_samples")}})
    values.update(model=model, preset=preset["preset"])
    config = TrainConfig(**{**unset, **values})
    if not spec.points:
        resolution, channels = _natural_size(data)
        config = replace(config, resolution=resolution if config.resolution is None else config.resolution,
                         channels=channels if config.channels is None else config.channels)
    config.validate()  # a bad setting is named before the data is counted or a choice announced
    if config.augment == "auto":
        config = replace(config, augment=_auto_augment(config, spec, images))
    config.validate()
    if announcement and notify is not None:
        notify(announcement)
    if auto is not None:
        config.auto_line = auto.line()  # kept in the run folder by the Trainer (training/run_folder.py)
    return config


def resume_config(saved: str | Mapping[str, Any], changes: Mapping[str, Any]) -> TrainConfig:
    """The config a run was trained with (flat, or in sections as saved), with the changes a resume may make.

    A new length (any of --steps, --epochs, --max-minutes) replaces the saved lengths as a whole: the run then
    trains to the length given and no other (e.g. `--steps 8000` lifts a spent time budget). Runtime settings
    (RUNTIME_FIELDS) replace their saved values; None means not given."""
    config = TrainConfig.from_saved(dict(saved) if isinstance(saved, Mapping) else saved)
    given = {k: v for k, v in changes.items() if k in RESUMABLE_FIELDS and v is not None}
    if any(k in LENGTH_FIELDS for k in given):
        given = {**dict.fromkeys(LENGTH_FIELDS), **given}
    return replace(config, **given).validate()


def check_resume_request(settings: Mapping[str, Any]) -> None:
    """A resumed run continues exactly: only its length and the runtime settings can change."""
    from ganforge.config.sections import flag_name

    extra = sorted(flag_name(k) for k in settings if k not in RESUMABLE_FIELDS)
    if extra:
        lengths, runtime = (", ".join(flag_name(k) for k in fields) for fields in (LENGTH_FIELDS, RUNTIME_FIELDS))
        raise GanforgeError(f"with --resume only the run's length ({lengths}) and runtime settings ({runtime}) can "
                            f"change; drop {', '.join(extra)}")


def _settings(request: Mapping[str, Any] | TrainConfig) -> dict[str, Any]:
    if isinstance(request, TrainConfig):
        return request.given()
    return flat_settings(dict(request), "settings")


def _choose_model(given: dict[str, Any], data: str, preset: str, images: int | None) -> tuple[str, str | None]:
    """The model given, else the preset's (2D points: mlp), else (when the preset was left to auto) one made for
    small data, else the default. `--preset plain` and `recommended` name DCGAN recipes, so they keep DCGAN."""
    if "model" in given:
        return given["model"], None
    chosen = preset_values(data, preset).get("model")
    if chosen:
        return chosen, None
    if preset != "auto":
        return FIELDS["model"].default, None
    resolution = given.get("resolution")
    small = [s for s in model_specs() if s.small_data_from and s.pickable]
    if given.get("conditional") or not isinstance(resolution, int) or is_point_data(data) or not small:
        return FIELDS["model"].default, None
    spec = min(small, key=lambda s: s.small_data_from)
    if resolution < spec.small_data_from:
        return FIELDS["model"].default, None
    count = images if images is not None else _count_images(data)
    if count is None or count >= SMALL_DATA_IMAGES:
        return FIELDS["model"].default, None
    return spec.name, (f"small data set ({count} images) at {resolution} px: using --model {spec.name} "
                       f"({spec.summary.split(': ', 1)[-1]}); give --model to choose another")


def _auto_choice(given: dict[str, Any], data: str, images: int | None) -> AutoChoice | None:
    """`--preset auto` for image data that is not a built-in with its own measured recipe (digits, stacked
    digits, 2D points: config/presets.py); None for a bad resolution, channels or source (the checks name them)."""
    resolution, channels = _natural_size(data)
    resolution, channels = given.get("resolution") or resolution, given.get("channels") or channels
    if not isinstance(resolution, int) or not isinstance(channels, int):
        return None  # validation names the bad value
    from ganforge.data.inventory import count_classes

    count = images if images is not None else _count_images(data)
    if count is None:
        return None  # no such data: the data check names it, with no line about a recipe for it
    minutes = given.get("max_minutes")
    timed = isinstance(minutes, (int, float)) and minutes > 0 and not given.get("total_steps") \
        and not given.get("epochs")
    shape = DataShape(resolution, channels, count, count_classes(data), bool(given.get("conditional")),
                      float(minutes) if timed else None)
    return choose(shape, given.get("model"))


def _natural_size(data: str) -> tuple[int, int]:
    from ganforge.data.inventory import natural_size

    return natural_size(data)


def _count_images(data: str) -> int | None:
    from ganforge.data.inventory import count_images

    return count_images(data)


def _auto_augment(config: TrainConfig, spec: ModelSpec, images: int | None) -> str:
    """`auto` -> `ada` for image sets under SMALL_DATA_IMAGES, `off` otherwise, and for models that augment
    their own inputs or take no augmentation (2D points, pix2pix pairs, msg, progressive, fastgan)."""
    if spec.points or spec.refused("augment", "ada", FIELDS["augment"].default):
        return "off"
    count = images if images is not None else _count_images(config.data)
    if count is None:
        return "auto"  # an unknown source: loading it reports what is wrong
    return "ada" if count < SMALL_DATA_IMAGES else "off"
