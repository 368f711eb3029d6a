"""Pictures of a 2D GAN at work: real vs generated points over D's decision surface, and the
whole run as an animated GIF (how the generated distribution moves towards the real one)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ganforge.runtime import eval_mode

REAL_POINTS = 2000  # real points drawn per frame
SURFACE_CELLS = 120  # decision-surface resolution per axis
MAX_GIF_FRAMES = 120


def plot_limits(real: torch.Tensor, margin: float = 0.25) -> tuple[float, float, float, float]:
    """A square view around the real data (same for every frame, so the GIF does not jump)."""
    low, high = real.min(0).values, real.max(0).values
    centre, half = (low + high) / 2, float((high - low).max()) / 2 * (1 + margin) + 1e-3
    return float(centre[0] - half), float(centre[0] + half), float(centre[1] - half), float(centre[1] + half)


@torch.no_grad()
def decision_surface(d_input: torch.nn.Module, limits: tuple[float, float, float, float]) -> np.ndarray:
    """sigmoid(D(x, y)) on a SURFACE_CELLS^2 grid, rows from bottom (y low) to top."""
    x0, x1, y0, y1 = limits
    xs, ys = torch.linspace(x0, x1, SURFACE_CELLS), torch.linspace(y0, y1, SURFACE_CELLS)
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    cells = torch.stack([xx.flatten(), yy.flatten()], 1)
    device = next(d_input.parameters()).device
    with eval_mode(d_input):
        logits = torch.cat([d_input.judge_each(chunk.to(device)).float().cpu() for chunk in cells.split(4096)])
    return torch.sigmoid(logits).view(SURFACE_CELLS, SURFACE_CELLS).numpy()


def save_scatter(path: Path, real: torch.Tensor, fake: torch.Tensor, d_input: torch.nn.Module, step: int) -> None:
    """PNG: D's verdict as the background (red = "real", blue = "fake"), real points black, generated orange."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    real = real[:REAL_POINTS].detach().float().cpu()
    fake = fake.detach().float().cpu()
    limits = plot_limits(real)
    fig, ax = plt.subplots(figsize=(5, 5))
    surface = ax.imshow(decision_surface(d_input, limits), origin="lower", extent=limits, cmap="RdBu_r",
                        vmin=0, vmax=1, alpha=0.6, interpolation="bilinear")
    ax.scatter(real[:, 0], real[:, 1], s=3, c="black", label="real", linewidths=0)
    ax.scatter(fake[:, 0], fake[:, 1], s=3, c="darkorange", linewidths=0, label="generated")
    ax.set_xlim(limits[0], limits[1])
    ax.set_ylim(limits[2], limits[3])
    ax.set_title(f"step {step}: real (black) vs generated (orange)", fontsize=9)
    fig.colorbar(surface, ax=ax, fraction=0.046, pad=0.04, label='D(x): "real" probability')
    fig.subplots_adjust(left=0.1, right=0.9, bottom=0.07, top=0.94)  # fixed margins: tight_layout draws twice
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp, dpi=80)
    plt.close(fig)
    tmp.replace(path)


def save_evolution_gif(samples_dir: Path, out: Path, fps: int = 6) -> Path | None:
    """Every scatter frame of the run (evenly thinned to at most MAX_GIF_FRAMES) as one animated GIF."""
    from PIL import Image

    from ganforge.images import save_gif

    frames = sorted(samples_dir.glob("[0-9]*.png"))
    if not frames:
        return None
    keep = np.unique(np.linspace(0, len(frames) - 1, min(len(frames), MAX_GIF_FRAMES)).round().astype(int))
    pictures = []
    for index in keep:
        with Image.open(frames[index]) as image:
            pictures.append(np.asarray(image.convert("RGB")))
    return save_gif(pictures, out, fps)
