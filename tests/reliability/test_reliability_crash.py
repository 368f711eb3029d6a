"""Crash safety: the short form of `python benchmarks/fault_injection.py --kills 20`.

Real `ganforge train` processes are SIGKILLed (after a random delay, inside a checkpoint write, at a
random training step), resumed each time, and finished; ganforge/reliability/faults.py lists every
check. SIGINT/SIGTERM are covered in-process by test_reliability_training.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ganforge.reliability import faults

pytestmark = [pytest.mark.reliability, pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")]


def test_sigkill_at_random_moments_loses_at_most_one_checkpoint_interval(tmp_path: Path) -> None:
    result = faults.run_campaign(tmp_path, kills=3, graceful=0, seed=1, max_delay=4.0, say=lambda line: None)
    assert result.failures == []
    assert result.kills == 3 and result.resumes >= 2  # a kill during start-up is followed by a fresh start
    assert max(result.steps_lost) <= faults.CHECKPOINT_EVERY
    assert result.kills_mid_write >= 1, "the aimed kill should land inside a checkpoint write"
    assert result.max_weight_difference == 0.0, "crash + resume must equal the uninterrupted run exactly"
