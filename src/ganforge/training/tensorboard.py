"""Optional TensorBoard mirror of a run (`--tensorboard`): scalars, sample grids and weight histograms.

The loop calls `scalars` at each log step and `samples` at each sample step; everything lands in
RUN/tensorboard, so `tensorboard --logdir RUN` shows it. Needs the optional `tensorboard` package.
"""

from __future__ import annotations

import math
from numbers import Real
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganforge.errors import GanforgeError
from ganforge.images import grid

EXTRA = "--tensorboard needs the tensorboard package: pip install 'ganforge[tensorboard]'"


class TensorBoardLog:
    def __init__(self, log_dir: Path, resume_step: int | None = None) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise GanforgeError(EXTRA) from None
        # a resumed run hides events written after its checkpoint's step, as metrics.jsonl drops those lines
        purge_step = None if resume_step is None else resume_step + 1
        self.writer = SummaryWriter(str(log_dir), purge_step=purge_step, flush_secs=10)

    def rewind(self, step: int) -> None:
        """Hide events after `step`, as a resume does: a NaN rollback re-runs those steps."""
        from torch.utils.tensorboard import SummaryWriter

        log_dir = self.writer.log_dir
        self.writer.close()
        self.writer = SummaryWriter(log_dir, purge_step=step + 1, flush_secs=10)

    def scalars(self, record: dict[str, Any]) -> None:
        """Every numeric field of a metrics.jsonl record, under its slash-namespaced key."""
        step = int(record["step"])
        for key, value in record.items():
            if key != "step" and isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value):
                self.writer.add_scalar(key, float(value), step)

    def samples(self, step: int, images: torch.Tensor, networks: dict[str, nn.Module]) -> None:
        """The fixed-seed sample grid, and a histogram of each network's weights."""
        nrow = int(math.sqrt(len(images))) or None
        self.writer.add_image("samples", grid(images, nrow), step, dataformats="HWC")
        for name, network in networks.items():
            for param_name, param in network.named_parameters():
                self.writer.add_histogram(f"{name}/{param_name}", param.detach().float().cpu(), step)

    def close(self) -> None:
        self.writer.close()
