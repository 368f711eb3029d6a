"""Training for a fixed time budget (`max_minutes`), as comparisons of several models do.

On a CPU the budget is this process's CPU time, so that other work on a shared machine does not shrink one
model's budget more than another's (as `ganforge bench modes` counts it); on a GPU it is wall-clock time.
"""

from __future__ import annotations

import time
from pathlib import Path

from ganforge.config import TrainConfig
from ganforge.data.dataset import ImageDataset
from ganforge.training.loop import Trainer


def train_for_budget(config: TrainConfig, out_dir: Path, dataset: ImageDataset | None = None,
                     ) -> tuple[Trainer, float]:
    """Train until `config.max_minutes` are spent; return the trainer and the seconds spent by the budget's clock.

    Ctrl-C / SIGTERM raise KeyboardInterrupt after the run has saved, so a comparison stops whole instead of going
    on to its next model."""
    trainer = Trainer(config, out_dir, dataset=dataset, quiet=True)
    trainer.clock = time.process_time if config.device == "cpu" else time.perf_counter
    start = trainer.clock()
    if trainer.run().status == "interrupted":
        raise KeyboardInterrupt
    return trainer, trainer.clock() - start
