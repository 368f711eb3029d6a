"""Scoring during training (`--eval-every N`): the loop asks every N steps "score, and is it the best yet?".

The scoring is the metrics library's (the same Evaluator as `ganforge eval`), or, with `--eval-extractor data`,
the cheap KID in the folder's own features (metrics/own_features.py: a small classifier trained at the start,
held-out real images); this action keeps the best score, so the loop can keep checkpoints/best.pt and a run that
later collapses still leaves its best model, and asks the stop advice (training/stop_advice.py) what to say. The
best score and the advice's counters live in the checkpoint (`state_dict`), so a resumed run keeps comparing
against them.
"""

from __future__ import annotations

import datetime
import sys
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganforge.config import TrainConfig
from ganforge.data import ImageDataset
from ganforge.metrics.evaluator import generated_features, make_evaluator
from ganforge.metrics.scores import BestScore, group_of
from ganforge.metrics.table import write_table
from ganforge.training.events import Event
from ganforge.training.stop_advice import StopAdvice

OWN_FEATURES = "data"  # --eval-extractor naming the folder's own classifier


class OwnKid:
    """The folder's own KID of G's samples against held-out real images (metrics/own_features.py)."""

    def __init__(self, config: TrainConfig, dataset: ImageDataset, device: torch.device, quiet: bool) -> None:
        from ganforge.metrics.own_features import describe, own_features

        self.dataset, self.config, self.device = dataset, config, device
        self.own = own_features(dataset, config.seed)
        if not quiet:
            print(describe(self.own), file=sys.stderr)

    def __call__(self, G: nn.Module, latent_dim: int, step: int, checkpoint: str = "", picture_dir: Path | None = None,
                 conditional: bool = False) -> dict[str, Any]:
        n, seed = self.config.eval_samples, self.config.seed
        labels = None
        if conditional and self.dataset.labels is not None:  # in the real data's class proportions
            g = torch.Generator().manual_seed(seed + 1)
            labels = self.dataset.labels[torch.randint(len(self.dataset), (n,), generator=g)]
        fake = generated_features(G, latent_dim, n, seed, self.own.extractor, self.device, "fp32", labels=labels)
        mean, std = self.own.kid(fake.features, seed)
        provenance = {**self.own.provenance(), "n_gen": n, "seed": seed, "metrics": ["kid"], "precision": "fp32",
                      "checkpoint": checkpoint, "time": datetime.datetime.now().isoformat(timespec="seconds")}
        return {"step": step, "eval/kid": mean, "eval/kid_std": std, "eval/provenance": provenance}


class TrainingEvaluator:
    def __init__(self, config: TrainConfig, dataset: ImageDataset, device: torch.device, out_dir: Path,
                 quiet: bool = True) -> None:
        self.best = BestScore(config.eval_metric)
        self.out_dir, self.latent_dim, self.conditional = out_dir, config.latent_dim, config.conditional
        if config.eval_extractor == OWN_FEATURES:
            self.evaluator: Any = OwnKid(config, dataset, device, quiet)
            blurred = self.evaluator.own.blurred
        else:
            metrics = ["fid", "kid", group_of(config.eval_metric)]
            extractor = None if config.eval_extractor == "auto" else config.eval_extractor
            # fp32 features whatever the training precision: scores stay comparable with other FID implementations
            self.evaluator = make_evaluator(dataset, config.data, metrics, config.eval_samples, extractor,
                                            config.eval_weights, seed=config.seed, device=device, precision="fp32",
                                            quiet=quiet)
            blurred = None
        self.advice = StopAdvice(config.eval_metric, blurred=blurred)

    def __call__(self, G: nn.Module, step: int) -> tuple[dict[str, Any], bool]:
        """The metrics.jsonl record for this step, and whether it is the best so far."""
        record = self.evaluator(G, self.latent_dim, step, checkpoint=f"training step {step}",
                                picture_dir=self.out_dir / "eval", conditional=self.conditional)
        is_best = self.best.update(record[f"eval/{self.best.score}"], step)
        record["eval/best"] = is_best
        return record, is_best

    def advise(self, record: dict[str, Any]) -> list[Event]:
        """The stop advice after an evaluation record: a plateau, or samples still far from the data."""
        return self.advice.observe(int(record["step"]), float(record[f"eval/{self.best.score}"]))

    def write_table(self) -> None:
        write_table(self.out_dir)

    def state_dict(self) -> dict[str, Any]:
        return {**self.best.state_dict(), "advice": self.advice.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best.load_state_dict(state)
        self.advice.load_state_dict(state.get("advice"))
