"""G/D balance policies (`--balance`): who gets updated each step, and how hard.

fixed     n_D D updates per G update (`--d-steps`).
ttur      one each, with separate learning rates (two time-scale update rule: D faster than G).
skip      the D-skipping remedy: skip D's update while its loss is below `--skip-d-below` (D is
          winning, and more D training would starve G of gradient); skip G's while D's loss is
          above `--skip-g-above` (D is hopeless, G's updates would follow noise).
adaptive  steer the gap D(x) - D(G(z)) towards `--balance-target` by scaling D's learning rate.
          The scale is applied as a change to the optimiser's rate, so a NaN rollback's halving
          (training/rollback.py) stays in force, and the rate is saved with the optimiser's state.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from ganforge.config.choices import BALANCE_POLICIES
from ganforge.errors import GanforgeError
from ganforge.training.events import Event

POLICIES = BALANCE_POLICIES  # the choices of --balance live with the other settings (config/choices.py)
# default skip thresholds in units of each loss (D's loss at chance level: bce 1.39, hinge 2, lsgan 0.5).
# bce 0.6: on a deliberately broken DCGAN run (lr_D = 10 lr_G) it kept D(x) - D(G(z)) below the doctor's
# imbalance line (0.8) where 0.3 did not (docs/stabilising.md)
SKIP_THRESHOLDS = {"nonsat": (0.6, 2.0), "minimax": (0.6, 2.0), "hinge": (0.3, 2.5), "lsgan": (0.05, 0.6)}
ADAPTIVE_GAIN = 0.01  # change of log(lr scale) per step per unit of gap error
ADAPTIVE_LIMIT = math.log(10.0)  # D's learning rate stays within 0.1x .. 10x of --lr-d


@dataclass(frozen=True)
class Decision:
    train_d: bool = True
    train_g: bool = True


class BalancePolicy:
    """`fixed` / `ttur`: always both (ttur differs only in its learning rates); `d_steps` D updates per step."""

    def __init__(self, d_steps: int = 1) -> None:
        self.d_steps = d_steps

    def decide(self) -> Decision:
        return Decision()

    def observe(self, step: int, stats: dict[str, torch.Tensor]) -> list[Event]:
        """Called after each step with its statistics; returns anything worth reporting."""
        return []

    def metrics(self, decision: Decision) -> dict[str, torch.Tensor]:
        """Per-step values to average into the log record."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


class SkipBalance(BalancePolicy):
    """Skips an update based on D's loss at the previous step; logs when a run of skips starts and ends."""

    def __init__(self, d_below: float, g_above: float) -> None:
        super().__init__()
        if not d_below < g_above:
            raise GanforgeError(f"--skip-d-below ({d_below}) must be lower than --skip-g-above ({g_above})")
        self.d_below, self.g_above = d_below, g_above
        self.last_d_loss: float | None = None
        self.skipped = {"D": 0, "G": 0}  # length of the current run of skips
        self.announced: set[str] = set()  # event kinds already shown on the console (later ones: metrics.jsonl)

    def decide(self) -> Decision:
        if self.last_d_loss is None or not math.isfinite(self.last_d_loss):
            return Decision()
        return Decision(train_d=self.last_d_loss >= self.d_below, train_g=self.last_d_loss <= self.g_above)

    def observe(self, step: int, stats: dict[str, torch.Tensor]) -> list[Event]:
        was = self.decide()
        self.skipped["D"] = 0 if was.train_d else self.skipped["D"] + 1
        self.skipped["G"] = 0 if was.train_g else self.skipped["G"] + 1
        self.last_d_loss = float(stats["loss/D"])
        now, loss, events = self.decide(), self.last_d_loss, []
        why = {"D": f"D's loss {loss:.3f} < {self.d_below} (D is winning): skipping D's updates until it rises",
               "G": f"D's loss {loss:.3f} > {self.g_above} (D is hopeless): skipping G's updates until D recovers"}
        for who, before, after in (("D", was.train_d, now.train_d), ("G", was.train_g, now.train_g)):
            if before and not after:
                events.append(self._event(step, f"balance/skip_{who.lower()}", why[who]))
            elif after and not before:
                events.append(self._event(step, f"balance/resume_{who.lower()}", f"{who}'s updates resume after "
                                          f"{self.skipped[who]} skipped step(s) (D's loss {loss:.3f})"))
        return events

    def _event(self, step: int, kind: str, message: str) -> Event:
        """Every skip goes to metrics.jsonl; only the first of each kind to the console, so it stays readable."""
        if kind in self.announced:
            return Event(step, kind, message, console=False)
        self.announced.add(kind)
        return Event(step, kind, message + " (further skips: metrics.jsonl and balance/*_skipped)")

    def metrics(self, decision: Decision) -> dict[str, torch.Tensor]:
        return {"balance/D_skipped": torch.tensor(float(not decision.train_d)),
                "balance/G_skipped": torch.tensor(float(not decision.train_g))}

    def state_dict(self) -> dict[str, Any]:
        return {"last_d_loss": self.last_d_loss, "skipped": dict(self.skipped)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.last_d_loss = state["last_d_loss"]
        self.skipped = dict(state["skipped"])


class AdaptiveBalance(BalancePolicy):
    """An integral controller on D's learning rate: a gap above the target slows D, below speeds it up."""

    def __init__(self, opt_D: torch.optim.Optimizer, target: float) -> None:
        super().__init__()
        self.opt_D, self.target = opt_D, target
        self.log_scale = 0.0
        self._reported = 0  # the last power of two of the scale that was reported

    @property
    def scale(self) -> float:
        return math.exp(self.log_scale)

    def _rescale(self, log_scale: float) -> None:
        for group in self.opt_D.param_groups:
            group["lr"] *= math.exp(log_scale - self.log_scale)
        self.log_scale = log_scale

    def observe(self, step: int, stats: dict[str, torch.Tensor]) -> list[Event]:
        gap = float(stats["D/real_prob"]) - float(stats["D/fake_prob"])
        if not math.isfinite(gap):
            return []
        self._rescale(min(ADAPTIVE_LIMIT, max(-ADAPTIVE_LIMIT, self.log_scale - ADAPTIVE_GAIN * (gap - self.target))))
        octave = int(self.log_scale / math.log(2))  # report each halving / doubling once
        if octave == self._reported:
            return []
        self._reported = octave
        side = "ahead: slowed down" if gap > self.target else "behind: sped up"
        return [Event(step, "balance/lr_d", f"D is {side}, D's learning rate now {self.scale:.2f}x --lr-d "
                                            f"(gap D(x)-D(G(z)) {gap:.2f}, target {self.target})")]

    def metrics(self, decision: Decision) -> dict[str, torch.Tensor]:
        return {"balance/lr_D_scale": torch.tensor(self.scale)}

    def state_dict(self) -> dict[str, Any]:
        return {"log_scale": self.log_scale, "reported": self._reported}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """The scaled rate itself comes back with the optimiser's state."""
        self.log_scale, self._reported = float(state["log_scale"]), int(state["reported"])


def make_balance(name: str, loss: str, opt_D: torch.optim.Optimizer, d_steps: int = 1,
                 skip_d_below: float | None = None, skip_g_above: float | None = None,
                 target: float = 0.3) -> BalancePolicy:
    """The policy named by --balance, with per-loss default thresholds for `skip`."""
    if name in ("fixed", "ttur"):
        return BalancePolicy(d_steps)
    if name == "skip":
        if loss not in SKIP_THRESHOLDS and (skip_d_below is None or skip_g_above is None):
            raise GanforgeError(f"--balance skip: no default thresholds for --loss {loss} (its D loss is unbounded);"
                                " give --skip-d-below and --skip-g-above")
        default_low, default_high = SKIP_THRESHOLDS.get(loss, (0.0, 0.0))
        return SkipBalance(default_low if skip_d_below is None else skip_d_below,
                           default_high if skip_g_above is None else skip_g_above)
    if name == "adaptive":
        return AdaptiveBalance(opt_D, target)
    raise GanforgeError(f"--balance must be one of {', '.join(POLICIES)}, got {name!r}")
