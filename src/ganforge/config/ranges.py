"""The allowed range of every numeric setting, checked with one-line messages that name the flag.

Ranges exclude values that cannot work (zero or negative sizes, learning rates >= 1, NaN, inf) and
values so large they can only be typos that would exhaust memory or never finish (a batch of a billion
images, a ten-thousand-year time budget). JSON config files go through the same checks as flags.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ganforge.errors import GanforgeError

MAX_SEED = 2**32 - 1  # seeds are combined arithmetically (seed * 1_000_003 + epoch) and must stay in 64 bits


@dataclass(frozen=True)
class Range:
    low: float
    high: float
    whole: bool = True  # whole numbers only
    low_open: bool = False  # low itself is excluded
    high_open: bool = False  # high itself is excluded
    example: str = ""

    def describe(self) -> str:
        if self.whole:
            return f"a whole number from {_show(self.low)} to {_show(self.high)}"
        low = f"greater than {_show(self.low)}" if self.low_open else f"at least {_show(self.low)}"
        high = f"less than {_show(self.high)}" if self.high_open else f"at most {_show(self.high)}"
        example = f" (e.g. {self.example})" if self.example else ""
        return f"a number {low} and {high}{example}"

    def holds(self, value: object) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if self.whole and not isinstance(value, int):
            return False
        if isinstance(value, float) and not math.isfinite(value):  # math.isfinite(10**400) raises
            return False
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below


def _show(bound: float) -> str:
    return f"{bound:,.0f}" if float(bound).is_integer() else f"{bound:g}"


def check_number(flag: str, value: object, allowed: Range) -> None:
    """Raise GanforgeError('--flag must be ..., got ...') unless value lies in the range."""
    if not allowed.holds(value):
        raise GanforgeError(f"{flag} must be {allowed.describe()}, got {value!r:.60}")


STEPS = Range(1, 10**9)
PROBABILITY_LIKE = Range(0, 1, whole=False, high_open=True)
THREADS = Range(0, 1024)  # --threads of train, stylize and eval; 0: the fastest count, found by timing

# TrainConfig's numeric fields. tests/config/test_reliability_validation.py fails for a numeric field missing here.
TRAIN_RANGES: dict[str, Range] = {
    "resolution": Range(16, 256),
    "channels": Range(1, 4),
    "latent_dim": Range(1, 4096),
    "g_width": Range(1, 4096),
    "d_width": Range(1, 4096),
    "lr_g": Range(0, 1, whole=False, low_open=True, high_open=True, example="2e-4"),
    "lr_d": Range(0, 1, whole=False, low_open=True, high_open=True, example="2e-4"),
    "beta1": PROBABILITY_LIKE,
    "beta2": PROBABILITY_LIKE,
    "batch_size": Range(1, 65536),
    "ema_beta": Range(0, 1, whole=False, high_open=True, example="0.999"),
    "lr_decay_start": Range(0, 1, whole=False, high_open=True, example="0.5"),
    "total_steps": STEPS,
    "epochs": Range(0, 1e6, whole=False, low_open=True),
    "max_minutes": Range(0, 525_600, whole=False, low_open=True, example="60 for an hour; a year at most"),
    "seed": Range(0, MAX_SEED),
    "log_every": STEPS,
    "sample_every": STEPS,
    "checkpoint_every": STEPS,
    "sample_count": Range(1, 1024),
    "nan_retries": Range(0, 100),
    "l1_weight": Range(0, 1e6, whole=False, example="100"),
    "adversarial_weight": Range(0, 1e6, whole=False, example="1"),
    "patch_size": Range(16, 286),  # and one of the PatchGAN fields (models/patchgan.py checks)
    "dropout": Range(0, 1, whole=False, high_open=True, example="0.5"),
    "cycle_weight": Range(0, 1e6, whole=False, example="10"),
    "identity_weight": Range(0, 1e6, whole=False, example="0.5"),
    "paired_weight": Range(0, 1e6, whole=False, example="10"),
    "paired_fraction": Range(0, 1, whole=False, example="0.1"),
    "resnet_blocks": Range(1, 64),
    "pool_size": Range(0, 10_000),
    "eval_every": Range(0, 10**9),  # 0 = never
    "eval_samples": Range(10, 1_000_000),
    "stage_images": Range(1, 10**9),
    "fade_images": Range(0, 10**9),  # 0 = new stages come in at once
    "threads": THREADS,  # 0: the fastest count, found by timing (ganforge/threads.py)
    # G/D balance and stabilisers (training/remedies.py checks how they combine)
    "d_steps": Range(1, 100),
    "skip_d_below": Range(-100, 1000, whole=False, example="0.6"),  # in units of D's loss; None: per-loss default
    "skip_g_above": Range(-100, 1000, whole=False, example="2"),
    "balance_target": Range(0, 1, whole=False, low_open=True, high_open=True, example="0.3"),
    "label_smoothing": Range(0, 0.5, whole=False, high_open=True, example="0.1"),
    "instance_noise": Range(0, 10, whole=False, example="0.1"),
    "noise_anneal_steps": STEPS,
    "pack": Range(1, 16),
    "augment_p": Range(0, 1, whole=False, example="0.2"),
    "ada_target": Range(0, 1, whole=False, low_open=True, high_open=True, example="0.6"),
    "r1_gamma": Range(0, 1e6, whole=False, example="10"),
    "r1_every": Range(1, 10**6),
    "latent_classes": Range(0, 1000),
    "info_weight": Range(0, 1000, whole=False, example="1"),
    "gamma": Range(0, 1e6, whole=False, example="0.05"),
    "decay_steps": Range(0, 10**9),  # 0 = constant rates, gamma and beta2
    "mapping_layers": Range(1, 8),
    "style_mixing": Range(0, 1, whole=False, example="0.9"),
    "pl_weight": Range(0, 1000, whole=False, example="2"),
}

SAMPLE_COUNT = Range(1, 100_000)  # `ganforge sample -n`
EVAL_SAMPLES = Range(2, 1_000_000)  # `ganforge eval -n` (as --eval-samples, with the 2 the statistics need)
EVAL_REAL = Range(2, 10_000_000)  # `ganforge eval --n-real`
SEED = TRAIN_RANGES["seed"]
TRUNCATION = Range(0, 1, whole=False, example="0.7; 1 is off")
PORT = Range(1, 65535)

# `ganforge interpolate` and Model.interpolate
INTERPOLATE_RANGES = {"walks": Range(1, 64), "points": Range(2, 64), "frames": Range(1, 1000), "fps": Range(1, 100),
                      "seed": SEED}
MAX_FRAMES = 10_000  # in one .gif (--points x --frames)


def check_interpolation(walks: object, points: object, frames: object, fps: object, seed: object) -> None:
    """Each number in its range, and the whole animation no larger than MAX_FRAMES frames and SAMPLE_COUNT images."""
    for name, value in {"walks": walks, "points": points, "frames": frames, "fps": fps, "seed": seed}.items():
        check_number(f"--{name}", value, INTERPOLATE_RANGES[name])
    total = points * frames  # type: ignore[operator]
    if total > MAX_FRAMES or total * walks > SAMPLE_COUNT.high:  # type: ignore[operator]
        raise GanforgeError(f"--points {points} x --frames {frames} makes {total:,} frames of {walks} images; at "
                            f"most {MAX_FRAMES:,} frames and {SAMPLE_COUNT.high:,} images in all")
