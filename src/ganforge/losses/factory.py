"""The adversarial loss a run trains with: the registered loss, with one-sided label smoothing when asked."""

from __future__ import annotations

import functools

from ganforge.errors import GanforgeError
from ganforge.losses.adversarial import LOSSES, AdversarialLoss


def make_loss(name: str, label_smoothing: float = 0.0) -> AdversarialLoss:
    """The registered loss; one-sided label smoothing makes D aim for 1 - s on reals, never on fakes."""
    loss = LOSSES.get(name)
    if label_smoothing and not loss.smoothable:
        raise GanforgeError(f"--label-smoothing works with --loss nonsat, minimax or lsgan, not {name}")
    if label_smoothing:
        loss = loss._replace(d_loss=functools.partial(loss.d_loss, real_target=1.0 - label_smoothing))
    return loss
