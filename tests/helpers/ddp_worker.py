"""Run by tests/training/test_distributed.py under torchrun: a tiny 2-process training, then each rank's weights.

    python -m torch.distributed.run --standalone --nproc_per_node 2 tests/helpers/ddp_worker.py OUT_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from ganforge.config import TrainConfig
from ganforge.errors import GanforgeError
from ganforge.training import distributed
from ganforge.training.loop import Trainer

TINY = dict(data="digits", resolution=16, channels=1, latent_dim=8, g_width=8, d_width=8, batch_size=8,
            total_steps=3, log_every=1, sample_every=100, checkpoint_every=1, sample_count=4, precision="fp32",
            device="cpu", seed=0, sync_bn=True)


def main(out: Path) -> None:
    trainer = Trainer(TrainConfig(**TINY), out / "run", quiet=True)
    trainer.run()
    rank = trainer.dist.rank
    weights = {net: {k: v.clone() for k, v in getattr(trainer, net).state_dict().items()} for net in ("G", "D")}
    if rank == 1:  # the check at every checkpoint must notice a rank that drifted
        with torch.no_grad():
            next(trainer.G.parameters()).add_(1e-3)
    try:
        trainer.dist.check_identical([trainer.G, trainer.D])
        noticed = False
    except GanforgeError:
        noticed = True
    torch.save({**weights, "noticed_drift": noticed, "world_size": trainer.dist.world_size}, out / f"rank{rank}.pt")
    distributed.exit_process(0)  # gloo can abort in the interpreter's exit handlers otherwise


if __name__ == "__main__":
    main(Path(sys.argv[1]))
