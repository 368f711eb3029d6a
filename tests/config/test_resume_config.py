"""What a resumed run may change: its length (as a whole) and the runtime settings; nothing that changes what it
learns."""

from __future__ import annotations

import pytest

from ganforge.config import TrainConfig
from ganforge.config.resolver import RUNTIME_FIELDS, check_resume_request, resume_config
from ganforge.errors import GanforgeError

SAVED = TrainConfig(data="digits", resolution=16, channels=1, total_steps=4000, epochs=3.0, max_minutes=60.0,
                    threads=0, device="auto", log_every=50).to_json()


def test_without_changes_the_saved_config_comes_back():
    config = resume_config(SAVED, {})
    assert (config.total_steps, config.epochs, config.max_minutes) == (4000, 3.0, 60.0)


@pytest.mark.parametrize(("given", "lengths"), [
    ({"total_steps": 8000}, (8000, None, None)),
    ({"epochs": 6.0}, (None, 6.0, None)),
    ({"max_minutes": 30.0}, (None, None, 30.0)),
    ({"total_steps": 8000, "max_minutes": 30.0}, (8000, None, 30.0)),
    ({"total_steps": None, "epochs": None}, (4000, 3.0, 60.0)),  # not given
])
def test_a_new_length_replaces_the_saved_lengths_as_a_whole(given, lengths):
    config = resume_config(SAVED, given)
    assert (config.total_steps, config.epochs, config.max_minutes) == lengths


def test_runtime_settings_replace_their_saved_values_and_nothing_else_does():
    config = resume_config(SAVED, {"threads": 1, "device": "cpu", "log_every": 5, "sample_every": 7,
                                   "checkpoint_every": 9, "nan_retries": 0, "precision": "fp32", "lr_g": 0.1})
    assert (config.threads, config.device, config.log_every, config.sample_every, config.checkpoint_every,
            config.nan_retries, config.precision) == (1, "cpu", 5, 7, 9, 0, "fp32")
    assert config.lr_g == TrainConfig().lr_g  # check_resume_request refuses it before; here it is ignored


def test_resume_changes_are_validated():
    with pytest.raises(GanforgeError, match="--threads must be a whole number from 0 to 1,024"):
        resume_config(SAVED, {"threads": -1})
    with pytest.raises(GanforgeError, match="--steps must be a whole number"):
        resume_config(SAVED, {"total_steps": 0})


@pytest.mark.parametrize("field", RUNTIME_FIELDS + ("total_steps", "epochs", "max_minutes"))
def test_every_runtime_setting_and_length_is_accepted_on_resume(field):
    check_resume_request({field: None})


@pytest.mark.parametrize(("field", "flag"), [("lr_g", "--lr-g"), ("model", "--model"), ("data", "--data"),
                                             ("batch_size", "--batch-size"), ("seed", "--seed"),
                                             ("sample_count", "--sample-count")])
def test_settings_that_change_the_run_are_refused_on_resume(field, flag):
    with pytest.raises(GanforgeError, match=f"drop {flag}$"):
        check_resume_request({field: 1, "threads": 1})
