"""The training doctor: cheap checks on every log record that explain, in plain words, what is
going wrong and what to try.

It looks at these things (the cost of each check, at every log step, in brackets):
- imbalance: D(x) near 1 and D(G(z)) near 0 for several log windows: D has won, G gets no signal
  (free: window averages the loop has already);
- dominance: a milder gap (e.g. D(x) 0.88 vs D(G(z)) 0.11) held for a long stretch of the run: G still learns,
  but slowly, from a D that is almost always sure (free);
- collapse: the spread of G's samples for the fixed sample-grid inputs, measured in D's feature
  space, is a small fraction of the spread of a fixed real batch (all samples look the same to D)
  (one G pass over the sample grid, D feature passes over it and a real batch of the same size);
- class collapse, for class-conditional runs: the same spread within each class, samples of a class against real
  images of that class (D feature passes over the sample grid and up to 16 real images per class). The overall
  spread cannot see it: different classes look different even when every sample of a class is the same image;
- coverage: on labelled images, G's samples miss classes of the data; on 2D points with known modes, they miss
  modes (training/coverage.py: one G pass over 128 latents, D feature passes over them and 256 labelled real
  images; 2D: one G pass over 2,500 latents). A G that makes six kinds of digit spreads as widely as real
  batches, so this catches the partial collapse the spread check cannot.
They run only every --log-every steps on small fixed batches, so they stay a small share of training time
(docs/stabilising.md, benchmarks/doctor_coverage.py).
Each problem is reported once, then again only if it persists after a cool-down. Divergence (NaN or
inf in a loss, a gradient norm or a weight) is training/rollback.py's job: it rolls the run back to the
last good checkpoint with lower learning rates and logs a `rollback` event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ganforge.recipes import Recipe
from ganforge.runtime import eval_mode
from ganforge.training.coverage import Coverage
from ganforge.training.events import Event

IMBALANCE_GAP = 0.8  # D(x) - D(G(z)) above this (e.g. 0.9 vs 0.1) counts as "D overpowering G"
DOCTOR_BATCH = 128  # samples compared by the collapse check
COLLAPSE_RATIO = 0.25  # fake spread below this fraction of the real spread counts as collapse
COLLAPSE_REMEDY = "Try --pack 2 (PacGAN), --minibatch-std, --ema-beta 0.999, or --loss hinge with --spectral-norm."
SHOWN_MISSING = 10  # missing classes / modes named in a message; the rest are counted
DOMINANCE_WINDOWS = 10  # log windows a long-held dominance is judged over
DOMINANCE_GAP = 0.7  # their mean D(x) - D(G(z)) above this (e.g. 0.88 vs 0.11) ...
DOMINANCE_FLOOR = 0.5  # ... with none of them below this: D has been sure of itself the whole stretch
DOMINANCE_REMEDY = ("Try --r1-gamma 1 (keeps D smooth around the real images), --augment ada (D then cannot "
                    "memorise a small folder), or a lower --lr-d (e.g. half of --lr-g).")
PROBLEMS = ("imbalance", "dominance", "collapse", "class_collapse", "coverage")  # in the order they are reported


@dataclass
class TrainingDoctor:
    warmup_steps: int = 200  # G starts out near-constant; judge collapse only after this
    patience: int = 3  # consecutive log windows a condition must hold before it is reported
    coverage_patience: int = 10  # the same for missing classes / modes: a learning G drops one now and then
    cooldown: int = 20  # log windows before the same problem is reported again
    check_imbalance: bool = True  # off for wgan-gp, whose critic outputs are not probabilities
    collapse_remedy: str = COLLAPSE_REMEDY  # what a collapse or coverage report suggests (the flags the model takes)
    dominance_remedy: str = DOMINANCE_REMEDY  # what a long-held dominance report suggests
    class_collapse_remedy: str = COLLAPSE_REMEDY  # what a collapse within classes suggests
    gaps: list[float] = field(default_factory=list)  # D(x) - D(G(z)) of the last DOMINANCE_WINDOWS log windows
    streaks: dict[str, int] = field(default_factory=dict)
    quiet_until: dict[str, int] = field(default_factory=dict)  # problem -> check index
    checks: int = 0

    def check(self, record: dict[str, Any], diversity: float | None = None,
              coverage: Coverage | None = None, class_diversity: float | None = None) -> list[Event]:
        """One log record (window averages) and, optionally, the fake/real spread ratio, G's class or mode
        coverage and, for a conditional run, the within-class spread ratio at that step."""
        self.checks += 1
        step = int(record["step"])
        found: dict[str, str] = {}
        real, fake = record.get("D/real_prob"), record.get("D/fake_prob")
        if self.check_imbalance and real is not None and fake is not None and real - fake > IMBALANCE_GAP:
            loss = f" (D's loss {record['loss/D']:.3g})" if "loss/D" in record else ""
            found["imbalance"] = (f"D is overpowering G: D(x) {real:.2f} vs D(G(z)) {fake:.2f}{loss}. D tells real "
                                  "from generated almost every time, so its feedback no longer shows G how to "
                                  "improve. Try --balance skip (skip D while its loss is low), --balance ttur or a "
                                  "lower --lr-d, --label-smoothing 0.1, --instance-noise 0.1, or --spectral-norm.")
        dominance = self._dominance(real, fake) if self.check_imbalance else None
        if dominance is not None and "imbalance" not in found and step >= self.warmup_steps:
            found["dominance"] = dominance
        if diversity is not None and step >= self.warmup_steps and diversity < COLLAPSE_RATIO:
            found["collapse"] = (f"G's samples are collapsing: a fixed batch of them spreads only {diversity:.2f}x "
                                 f"as widely as real batches in D's eyes. {self.collapse_remedy}")
        if class_diversity is not None and step >= self.warmup_steps and class_diversity < COLLAPSE_RATIO \
                and "collapse" not in found:
            overall = f" (overall {diversity:.2f}x, which hides it: the classes differ from each other)" \
                if diversity is not None else ""
            found["class_collapse"] = (
                f"G's samples are collapsing within each class: samples of one class spread only "
                f"{class_diversity:.2f}x as widely as real images of that class in D's eyes{overall}, so each "
                f"class comes out as nearly the same picture. {self.class_collapse_remedy}")
        if coverage is not None and step >= self.warmup_steps and coverage.missing:
            found["coverage"] = coverage_message(coverage, self.collapse_remedy, self.coverage_patience)
        events = []
        for problem in PROBLEMS:
            if problem not in found:
                self.streaks[problem] = 0
                continue
            self.streaks[problem] = self.streaks.get(problem, 0) + 1
            patience = self.coverage_patience if problem == "coverage" else self.patience
            if self.streaks[problem] >= patience and self.checks >= self.quiet_until.get(problem, 0):
                events.append(Event(step, f"doctor/{problem}", found[problem]))
                self.quiet_until[problem] = self.checks + self.cooldown
        return events

    def _dominance(self, real: float | None, fake: float | None) -> str | None:
        """The long-held dominance message when the last DOMINANCE_WINDOWS windows show one, else None."""
        if real is None or fake is None:
            return None
        self.gaps = (self.gaps + [real - fake])[-DOMINANCE_WINDOWS:]
        if len(self.gaps) < DOMINANCE_WINDOWS or min(self.gaps) < DOMINANCE_FLOOR:
            return None
        mean = sum(self.gaps) / len(self.gaps)
        if mean <= DOMINANCE_GAP:
            return None
        return (f"D has dominated G for the last {DOMINANCE_WINDOWS} log windows: D(x) - D(G(z)) averaged "
                f"{mean:.2f} (now D(x) {real:.2f} vs D(G(z)) {fake:.2f}). D is sure of almost every image, so G "
                f"learns slowly and its samples stay far from the data. {self.dominance_remedy}")

    def state_dict(self) -> dict[str, Any]:
        return {"streaks": dict(self.streaks), "quiet_until": dict(self.quiet_until), "checks": self.checks,
                "gaps": list(self.gaps)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.streaks, self.quiet_until = dict(state["streaks"]), dict(state["quiet_until"])
        self.checks = int(state["checks"])
        self.gaps = [float(g) for g in state.get("gaps", [])]  # absent in checkpoints from before the check


def coverage_message(coverage: Coverage, remedy: str, windows: int) -> str:
    """"G's samples cover 6 of 10 classes of the data (missing: 1, 4, 7, 9) ...: mode collapse" in plain words."""
    missing = ", ".join(coverage.missing[:SHOWN_MISSING])
    if len(coverage.missing) > SHOWN_MISSING:
        missing += f" and {len(coverage.missing) - SHOWN_MISSING} more"
    verb, where = ("hit", " (within 3 std)") if coverage.kind == "modes" else ("cover", "")
    return (f"G's samples {verb} {coverage.covered} of {coverage.judged} {coverage.kind} of the data{where} "
            f"(missing: {missing}) for {windows} log windows in a row: mode collapse, G makes only part of what "
            f"the data holds. {remedy}")


def mean_pairwise_distance(features: torch.Tensor) -> float:
    """Average Euclidean distance between distinct rows of (N, F) features."""
    d = torch.cdist(features.float(), features.float())
    n = d.shape[0]
    return float(d.sum() / max(1, n * (n - 1)))


@torch.no_grad()
def diversity_ratio(recipe: Recipe, G: nn.Module, D_input: nn.Module, inputs: dict[str, torch.Tensor],
                    real: torch.Tensor) -> float | None:
    """Spread of G's samples for `inputs` over spread of a real batch, both in D's feature space (eval mode:
    no side effects). None when the recipe's samples are not judged or D exposes no features.

    Near 1: G's samples vary as much as real ones; near 0: they all look alike to D."""
    with eval_mode(G, D_input):
        fakes = recipe.sample_grid(G, inputs)[0] if recipe.judged_by_spread else None
        fake_features = None if fakes is None or len(fakes) < 2 else D_input.features(_spread_out(fakes.float()))
        if fake_features is None:
            return None
        real_spread = mean_pairwise_distance(D_input.features(_spread_out(real)))
        return mean_pairwise_distance(fake_features) / max(real_spread, 1e-12)


@torch.no_grad()
def class_diversity_ratio(recipe: Recipe, G: nn.Module, D_input: nn.Module, inputs: dict[str, torch.Tensor],
                          real: torch.Tensor, real_labels: torch.Tensor) -> float | None:
    """For a class-conditional grid: the mean spread of G's samples within a class over the mean spread of real
    images within a class, in D's feature space. None when the samples carry no labels or D exposes no features."""
    labels = inputs.get("labels")
    if labels is None or not recipe.judged_by_spread:
        return None
    with eval_mode(G, D_input):
        fakes = recipe.sample_grid(G, inputs)[0]
        keep = _spread_out_index(len(fakes), fakes.device)
        fake_features = D_input.features(fakes[keep].float())
        if fake_features is None:
            return None
        fake_spread = within_class_spread(fake_features, labels[keep])
        real_spread = within_class_spread(D_input.features(real), real_labels)
    if fake_spread is None or real_spread is None:
        return None
    return fake_spread / max(real_spread, 1e-12)


def within_class_spread(features: torch.Tensor, labels: torch.Tensor) -> float | None:
    """The mean over classes (those with at least two rows) of the mean pairwise distance within the class."""
    spreads = [mean_pairwise_distance(features[labels == c]) for c in labels.unique() if int((labels == c).sum()) > 1]
    return sum(spreads) / len(spreads) if spreads else None


def _spread_out_index(count: int, device: torch.device) -> torch.Tensor:
    """The rows _spread_out keeps, for batches whose labels must be kept alongside."""
    if count <= DOCTOR_BATCH:
        return torch.arange(count, device=device)
    return torch.linspace(0, count - 1, DOCTOR_BATCH).long().to(device)


def _spread_out(batch: torch.Tensor) -> torch.Tensor:
    """At most DOCTOR_BATCH rows, evenly spaced (every class of a conditional grid): keeps the check cheap."""
    if len(batch) <= DOCTOR_BATCH:
        return batch
    return batch[torch.linspace(0, len(batch) - 1, DOCTOR_BATCH).long().to(batch.device)]


def grad_norm(params: nn.Module | list[torch.Tensor]) -> torch.Tensor:
    """L2 norm of all current gradients of a module (or of its parameter list; 0 when it has none)."""
    if isinstance(params, nn.Module):
        params = list(params.parameters())
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.zeros(())
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
