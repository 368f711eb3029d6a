"""The loss plot: raw losses, their running mean, and D's view of real vs fake."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

EXPLANATION = ("GAN losses oscillate instead of falling: G and D are opponents, so each one's progress raises "
               "the other's loss. Judge progress by the samples (and FID/KID), not by these curves.")


def _running_mean(values: np.ndarray, window: int) -> np.ndarray:
    if len(values) < window:
        window = max(1, len(values))
    kernel = np.ones(window) / window
    padded = np.concatenate([np.full(window - 1, values[0]), values])
    return np.convolve(padded, kernel, mode="valid")


def plot_losses(records: list[dict[str, Any]], path: Path) -> None:
    """Write loss.png from metrics records (needs at least two)."""
    rows = [r for r in records if r.get("loss/D") is not None and r.get("loss/G") is not None]
    if len(rows) < 2:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = np.array([r["step"] for r in rows])
    fig, (ax_loss, ax_prob) = plt.subplots(2, 1, figsize=(8, 6.5), sharex=True)
    for key, colour in (("loss/D", "tab:blue"), ("loss/G", "tab:orange")):
        values = np.array([r[key] for r in rows], dtype=float)
        ax_loss.plot(steps, values, color=colour, alpha=0.3, lw=1)
        ax_loss.plot(steps, _running_mean(values, 10), color=colour, lw=2, label=key)
    ax_loss.set_ylabel("loss")
    ax_loss.legend(loc="upper right")
    for key, colour, label in (("D/real_prob", "tab:green", "D(x): real judged real"),
                               ("D/fake_prob", "tab:red", "D(G(z)): fake judged real")):
        values = np.array([r.get(key, np.nan) for r in rows], dtype=float)
        ax_prob.plot(steps, values, color=colour, lw=1.5, label=label)
    ax_prob.axhline(0.5, color="grey", lw=0.8, ls="--")
    ax_prob.set_ylim(0, 1)
    ax_prob.set_xlabel("step")
    ax_prob.set_ylabel("probability")
    ax_prob.legend(loc="upper right")
    fig.suptitle(EXPLANATION, fontsize=8, wrap=True)
    fig.subplots_adjust(left=0.09, right=0.98, bottom=0.08, top=0.90, hspace=0.08)  # fixed: tight_layout redraws
    tmp = path.with_name(path.name + ".tmp.png")
    try:
        fig.savefig(tmp, dpi=90)
        tmp.replace(path)
    finally:  # a failed write (disk full) leaves the previous loss.png, no temp file and no open figure
        plt.close(fig)
        tmp.unlink(missing_ok=True)
