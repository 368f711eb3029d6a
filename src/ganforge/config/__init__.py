"""A run's settings: the fields, their ranges, the presets and the defaults each choice brings."""

from ganforge.config.train_config import DEFAULT_STEPS, TrainConfig, flag_name

__all__ = ["DEFAULT_STEPS", "TrainConfig", "flag_name"]
