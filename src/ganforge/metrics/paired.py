"""Scoring image-to-image translation on held-out pairs: L1, PSNR, SSIM, and sharpness.

All on [0, 1] pixel values. L1/PSNR/SSIM reward closeness to the one target, so a blurry average of
the plausible outputs scores well on them; sharpness (variance of the Laplacian, compared with the
targets' own) shows the blur they hide. SSIM follows Wang et al. 2004 with scikit-image's
Gaussian-window settings (sigma 1.5, 11x11, K1 0.01, K2 0.03, population covariances).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.data.load import load_pairs
from ganforge.data.paired import PairedDataset
from ganforge.errors import GanforgeError
from ganforge.images import from_uint8

GREY = (0.299, 0.587, 0.114)


def _unit(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] -> [0, 1], float."""
    return (images.float().clamp(-1, 1) + 1) / 2


def l1_error(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(N,) mean absolute error per image, in [0, 1] pixel units."""
    return (_unit(output) - _unit(target)).abs().flatten(1).mean(1)


def psnr(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(N,) peak signal-to-noise ratio per image in dB (data range 1); identical images give 100 dB."""
    mse = (_unit(output) - _unit(target)).pow(2).flatten(1).mean(1)
    return 10 * torch.log10(1 / mse.clamp(min=1e-10))


def _gaussian_window(sigma: float = 1.5, truncate: float = 3.5) -> torch.Tensor:
    radius = int(truncate * sigma + 0.5)
    t = torch.arange(-radius, radius + 1, dtype=torch.float64)
    g = torch.exp(-(t**2) / (2 * sigma**2))
    return g / g.sum()


def ssim(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(N,) structural similarity per image: mean over channels and over window positions inside the image."""
    x, y = _unit(output).double(), _unit(target).double()
    n, c = x.shape[:2]
    g = _gaussian_window()
    size = len(g)
    if min(x.shape[-2:]) < size:
        raise GanforgeError(f"SSIM needs images of at least {size}x{size} pixels, got {tuple(x.shape[-2:])}")

    def blur(a: torch.Tensor) -> torch.Tensor:  # separable Gaussian, valid positions only
        a = a.reshape(n * c, 1, *a.shape[-2:])
        a = F.conv2d(a, g.view(1, 1, 1, size))
        return F.conv2d(a, g.view(1, 1, size, 1))

    c1, c2 = 0.01**2, 0.03**2
    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    return s.view(n, -1).mean(1).float()


def sharpness(images: torch.Tensor) -> torch.Tensor:
    """(N,) variance of the Laplacian of the grey image: high for crisp edges and texture, low for blur."""
    x = _unit(images)
    if x.shape[1] == 3:
        x = (x * torch.tensor(GREY).view(1, 3, 1, 1)).sum(1, keepdim=True)
    laplacian = torch.tensor([[0.0, 1, 0], [1, -4, 1], [0, 1, 0]]).view(1, 1, 3, 3)
    return F.conv2d(x, laplacian).flatten(1).var(1)


def score_outputs(outputs: torch.Tensor, targets: torch.Tensor, batch_size: int = 64) -> dict[str, Any]:
    """Mean L1, PSNR, SSIM and sharpness of translations `outputs` ((N, C, H, W) in [-1, 1]) against their
    true partners `targets` (uint8 (N, H, W, C), converted a batch at a time)."""
    scores: dict[str, list[torch.Tensor]] = {"l1": [], "psnr": [], "ssim": [], "sharpness": [],
                                             "target_sharpness": []}
    for output, target in zip(outputs.split(batch_size), targets.split(batch_size)):
        target = from_uint8(target)
        scores["l1"].append(l1_error(output, target))
        scores["psnr"].append(psnr(output, target))
        scores["ssim"].append(ssim(output, target))
        scores["sharpness"].append(sharpness(output))
        scores["target_sharpness"].append(sharpness(target))
    result: dict[str, Any] = {key: torch.cat(values).mean().item() for key, values in scores.items()}
    result["sharpness_ratio"] = result["sharpness"] / max(result["target_sharpness"], 1e-12)
    result["pairs"] = len(outputs)
    return result


def translate(G: nn.Module, images: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
    """uint8 (N, H, W, C) images -> G's outputs, float (N, C', H, W) on the CPU, G in eval mode (no dropout)."""
    return translate_floats(G, from_uint8(images), batch_size)


@torch.no_grad()
def translate_floats(G: nn.Module, images: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
    """The same for float (N, C, H, W) images in [-1, 1], e.g. another G's outputs (a cycle back).

    A G without parameters (nn.Identity: leaving each input as it is, the baseline) runs on the CPU."""
    weight = next(G.parameters(), None)
    device = weight.device if weight is not None else torch.device("cpu")
    was_training = G.training
    G.eval()
    outputs = [G(chunk.to(device)).float().cpu() for chunk in images.split(batch_size)]
    G.train(was_training)
    return torch.cat(outputs)


def evaluate_translation(G: nn.Module, pairs: PairedDataset, batch_size: int = 64) -> dict[str, Any]:
    """Mean L1, PSNR, SSIM and sharpness of G's outputs on `pairs`."""
    return score_outputs(translate(G, pairs.inputs, batch_size), pairs.targets, batch_size)


def heldout_pairs(config: dict[str, Any], data: str | None = None) -> PairedDataset | None:
    """The run's held-out pairs (a built-in task's heldout split, or the val/ or test/ folder of its data);
    with `data`, that folder's held-out split, or the whole folder when it has no split sub-folders."""
    source = data or config["data"]
    args = (config["resolution"], config["channels"], config["direction"])
    pairs = load_pairs(source, *args, split="heldout", quiet=True)
    if pairs is None and data is not None and not (Path(data) / "train").is_dir():
        pairs = load_pairs(source, *args, split="train", quiet=True)
    return pairs


def evaluate_run(run: str | os.PathLike, data: str | None = None, use_ema: bool = True,
                 device: str = "cpu") -> dict[str, Any]:
    """Score a pix2pix run on held-out pairs; a GanforgeError if there are none."""
    from ganforge.inference.translate import load_translator

    translator = load_translator(run, use_ema, device)
    pairs = heldout_pairs(translator.config, data)
    if pairs is None:
        raise GanforgeError(f"{run}: its data {translator.config['data']} has no held-out split (a val/ or test/ "
                            "folder beside train/); pass --data with a folder of held-out pairs")
    result = evaluate_translation(translator.G, pairs)
    result.update(step=translator.step, data=data or translator.config["data"])
    return result


def format_scores(rows: dict[str, dict[str, Any]]) -> str:
    """A plain-text table, one row per named result."""
    head = f"{'':<16} {'L1':>7} {'PSNR dB':>8} {'SSIM':>6} {'sharpness':>10} {'vs target':>10}"
    lines = [head]
    for name, r in rows.items():
        lines.append(f"{name:<16} {r['l1']:7.4f} {r['psnr']:8.2f} {r['ssim']:6.3f} {r['sharpness']:10.5f} "
                     f"{r['sharpness_ratio']:9.2f}x")
    return "\n".join(lines)
