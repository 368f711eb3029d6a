"""Balance policies: each skips (or slows) exactly when it should, and says so."""

from __future__ import annotations

import copy
import math

import pytest
import torch

from ganforge.errors import GanforgeError
from ganforge.training.balance import AdaptiveBalance, Decision, SkipBalance, make_balance


def _stats(d_loss: float, real: float = 0.5, fake: float = 0.5) -> dict[str, torch.Tensor]:
    return {"loss/D": torch.tensor(d_loss), "D/real_prob": torch.tensor(real), "D/fake_prob": torch.tensor(fake)}


def test_skip_policy_follows_the_previous_d_loss():
    policy = SkipBalance(d_below=0.3, g_above=2.0)
    trace = [1.0, 0.25, 0.1, 0.35, 2.5, 1.0, float("nan")]
    decisions, kinds = [], []
    for step, loss in enumerate(trace, 1):
        decisions.append(policy.decide())
        kinds += [e.kind for e in policy.observe(step, _stats(loss))]
    decisions.append(policy.decide())
    # the decision for a step is made from the D loss of the step before it
    assert decisions == [Decision(), Decision(), Decision(False, True), Decision(False, True), Decision(),
                         Decision(True, False), Decision(), Decision()]
    assert kinds == ["balance/skip_d", "balance/resume_d", "balance/skip_g", "balance/resume_g"]


def test_skip_events_explain_why_and_count_the_skips():
    policy = SkipBalance(d_below=0.3, g_above=2.0)
    events = []
    for step, loss in enumerate([0.2, 0.1, 0.1, 0.5], 1):
        policy.decide()
        events += policy.observe(step, _stats(loss))
    assert events[0].step == 1 and "0.200 < 0.3" in events[0].message and "D is winning" in events[0].message
    assert events[1].step == 4 and "after 3 skipped" in events[1].message
    assert [e.console for e in events] == [True, True]  # first of each kind shown on the console
    policy.decide()
    later = policy.observe(5, _stats(0.1))
    assert [(e.kind, e.console) for e in later] == [("balance/skip_d", False)]  # later ones: metrics.jsonl only


def test_skip_thresholds_default_per_loss_and_refuse_unbounded_losses():
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    assert (make_balance("skip", "hinge", opt).d_below, make_balance("skip", "hinge", opt).g_above) == (
        0.3, 2.5)
    assert make_balance("skip", "nonsat", opt, skip_d_below=0.5).d_below == 0.5
    with pytest.raises(GanforgeError, match="skip-d-below"):
        make_balance("skip", "wgan-gp", opt)
    with pytest.raises(GanforgeError, match="lower than"):
        make_balance("skip", "nonsat", opt, skip_d_below=3.0)
    assert make_balance("fixed", "nonsat", opt, d_steps=3).d_steps == 3


def test_adaptive_policy_slows_a_winning_d_and_speeds_a_losing_one():
    weight = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([weight], lr=0.1)
    policy = AdaptiveBalance(opt, target=0.3)
    events = []
    for step in range(1, 201):
        events += policy.observe(step, _stats(0.1, real=0.95, fake=0.05))  # gap 0.9, target 0.3
    assert opt.param_groups[0]["lr"] < 0.1 * math.exp(-0.01 * 0.6 * 199)
    assert events and events[0].kind == "balance/lr_d" and "slowed down" in events[0].message
    state, opt_state = policy.state_dict(), copy.deepcopy(opt.state_dict())
    for step in range(201, 2001):
        policy.observe(step, _stats(1.3, real=0.5, fake=0.5))  # gap 0: D behind
    assert opt.param_groups[0]["lr"] > 0.1
    opt.load_state_dict(opt_state)  # resume: the optimiser brings its scaled rate back, the policy its scale
    policy.load_state_dict(state)
    assert opt.param_groups[0]["lr"] < 0.1 and policy.scale < 1
    opt.param_groups[0]["lr"] /= 2  # a NaN rollback halves the rate: the policy's next change keeps the halving
    before = opt.param_groups[0]["lr"]
    policy.observe(2001, _stats(1.3, real=0.5, fake=0.5))
    assert opt.param_groups[0]["lr"] == pytest.approx(before * math.exp(0.01 * 0.3))
