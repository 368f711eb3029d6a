"""Scoring during training (`--eval-every N`): the loop asks every N steps "score, and is it the best yet?".

The scoring is the metrics library's (the same Evaluator as `ganforge eval`); this action only keeps the
best score, so the loop can keep checkpoints/best.pt and a run that later collapses still leaves its best
model. The best score lives in the checkpoint (`state_dict`), so a resumed run keeps comparing against it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganforge.config import TrainConfig
from ganforge.data import ImageDataset
from ganforge.metrics.evaluator import make_evaluator
from ganforge.metrics.scores import BestScore, group_of
from ganforge.metrics.table import write_table


class TrainingEvaluator:
    def __init__(self, config: TrainConfig, dataset: ImageDataset, device: torch.device, out_dir: Path,
                 quiet: bool = True) -> None:
        self.best = BestScore(config.eval_metric)
        self.out_dir, self.latent_dim, self.conditional = out_dir, config.latent_dim, config.conditional
        metrics = ["fid", "kid", group_of(config.eval_metric)]
        extractor = None if config.eval_extractor == "auto" else config.eval_extractor
        # fp32 features whatever the training precision: scores stay comparable with other FID implementations
        self.evaluator = make_evaluator(dataset, config.data, metrics, config.eval_samples, extractor,
                                        config.eval_weights, seed=config.seed, device=device, precision="fp32",
                                        quiet=quiet)

    def __call__(self, G: nn.Module, step: int) -> tuple[dict[str, Any], bool]:
        """The metrics.jsonl record for this step, and whether it is the best so far."""
        record = self.evaluator(G, self.latent_dim, step, checkpoint=f"training step {step}",
                                picture_dir=self.out_dir / "eval", conditional=self.conditional)
        is_best = self.best.update(record[f"eval/{self.best.score}"], step)
        record["eval/best"] = is_best
        return record, is_best

    def write_table(self) -> None:
        write_table(self.out_dir)

    def state_dict(self) -> dict[str, Any]:
        return self.best.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best.load_state_dict(state)
