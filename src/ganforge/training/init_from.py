"""Fine-tuning (`--init-from RUN_OR_CHECKPOINT`): a new run's G, D and EMA of G start from another run's weights.

Only the weights travel: optimisers, step counters, the learning-rate and EMA schedules, the doctor and the data
position start fresh, as a run at step 0 does (StyleGAN2-ADA's transfer learning starts the same way). The file is
read by the checkpoint loader (hash or seal checked, nothing unpickled), and every tensor's name and shape must
match the new run's networks: otherwise one line names the file and the first tensor that differs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganforge.checkpoint import load_checkpoint, resolve_checkpoint
from ganforge.errors import GanforgeError


def load_init_source(source: str) -> tuple[Path, dict[str, Any]]:
    """The checkpoint `--init-from` names (a run folder means its latest.pt), loaded and verified."""
    path = resolve_checkpoint(source)
    state = load_checkpoint(path)
    if not isinstance(state.get("G"), dict) or not isinstance(state.get("D"), dict):
        raise GanforgeError(f"--init-from {path}: holds no trained networks (no G and D weights)")
    return path, state


def first_mismatch(wanted: dict[str, torch.Tensor], given: dict[str, Any]) -> str | None:
    """The first difference between a network's tensors and the ones offered for it, in words; None if they fit."""
    for key, tensor in wanted.items():
        offered = given.get(key)
        if not isinstance(offered, torch.Tensor):
            return f"it has no tensor {key}"
        if tuple(offered.shape) != tuple(tensor.shape):
            return f"{key} is {_shape(offered)} there but {_shape(tensor)} in this run"
        if tensor.is_floating_point() and not offered.is_floating_point():
            return f"{key} holds {str(offered.dtype).removeprefix('torch.')} values, not floats"
    extra = [key for key in given if key not in wanted]
    return f"it has a tensor {extra[0]} this run's network lacks" if extra else None


def _shape(tensor: torch.Tensor) -> str:
    return "(" + ", ".join(map(str, tensor.shape)) + ")"


def init_networks(path: Path, state: dict[str, Any], G: nn.Module, D: nn.Module,
                  G_ema: nn.Module | None) -> None:
    """Copy the saved weights into G, D and the EMA copy (from the saved EMA, else the saved G); the networks
    are checked first, so a mismatch changes nothing."""
    ema_weights = state.get("G_ema") if isinstance(state.get("G_ema"), dict) else state["G"]
    pairs = [("G", G, state["G"]), ("D", D, state["D"])] + ([("G's EMA", G_ema, ema_weights)] if G_ema else [])
    for name, network, weights in pairs:
        problem = first_mismatch(network.state_dict(), weights)
        if problem is not None:
            raise GanforgeError(f"--init-from {path}: its {name} does not fit this run's ({problem}); use the same "
                                "--model, --resolution, --channels, widths, --latent-dim and D options, and the "
                                "same classes for --conditional")
    with torch.no_grad():
        for _, network, weights in pairs:
            network.load_state_dict(weights)
