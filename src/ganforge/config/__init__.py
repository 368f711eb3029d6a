"""A run's settings: the fields by section, their ranges and choices, the presets and `resolve_config`."""

from ganforge.config.resolver import resolve_config, resume_config
from ganforge.config.sections import SECTIONS, flag_name
from ganforge.config.train_config import DEFAULT_STEPS, TrainConfig, planned_steps

__all__ = ["DEFAULT_STEPS", "SECTIONS", "TrainConfig", "flag_name", "planned_steps", "resolve_config", "resume_config"]
