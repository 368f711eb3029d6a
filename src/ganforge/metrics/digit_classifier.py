"""An independent digit classifier, trained on the built-in digits, to judge generated digits.

It never sees generated images and shares nothing with any discriminator, so "the classifier reads
this sample as a 7, confidently" is a fair, repeatable quality check. Trained once, on first use, and
cached (its cost: docs/evaluation.md).
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.checkpoint import load_checkpoint, save_checkpoint
from ganforge.data.builtin import digits

RESOLUTION = 32
TRAIN_SEED = 0
VERSION = 2


def cache_dir() -> Path:
    """$GANFORGE_CACHE, else ~/.cache/ganforge."""
    return Path(os.environ.get("GANFORGE_CACHE", Path.home() / ".cache" / "ganforge"))


NOT_A_DIGIT = 10  # an eleventh class, trained on blanks, noise and blobs


class DigitClassifier(nn.Module):
    """Small CNN: (N, 1, 32, 32) in [-1, 1] -> 11 logits (digits 0-9, then "not a digit").

    The reject class keeps the quality check honest: a blank, noise or a smudge must not
    be read as a digit with high confidence. `features` gives the 128-d penultimate layer."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),  # 16 px
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),  # 8 px
            nn.Conv2d(64, 128, 3, padding=1), nn.BatchNorm2d(128), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(128, 11))

    @staticmethod
    def prepare(images: torch.Tensor) -> torch.Tensor:
        """Any (N, C, H, W) in [-1, 1] -> (N, 1, 32, 32): grey, resized."""
        x = images.float()
        if x.shape[1] == 3:
            x = (x * torch.tensor([0.299, 0.587, 0.114], device=x.device).view(1, 3, 1, 1)).sum(1, keepdim=True)
        if x.shape[-1] != RESOLUTION or x.shape[-2] != RESOLUTION:
            x = F.interpolate(x, size=(RESOLUTION, RESOLUTION), mode="bilinear", align_corners=False, antialias=True)
        return x

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return self.body(self.prepare(images))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images))


def _augment(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Random small rotation, scale and shift, so the classifier tolerates imperfect digits."""
    n = x.shape[0]
    angle = (torch.rand(n, generator=g) - 0.5) * (2 * math.radians(12))
    scale = 1 + (torch.rand(n, generator=g) - 0.5) * 0.2
    shift = (torch.rand(n, 2, generator=g) - 0.5) * (2 * 2.5 / RESOLUTION * 2)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x + 1, grid, align_corners=False, padding_mode="zeros") - 1


def _negatives(n: int, g: torch.Generator) -> torch.Tensor:
    """n images that are not digits: blanks, noise and smooth blobs.

    (Blends of two digits were tried too: they made 8s and 9s ambiguous and cut held-out accuracy.)"""
    kind = torch.randint(0, 3, (n,), generator=g)
    out = torch.empty(n, 1, RESOLUTION, RESOLUTION)
    level = torch.rand(n, 1, 1, 1, generator=g) * 2 - 1
    out[:] = level.clamp(max=-0.5)  # blank, dark
    noise = torch.rand(n, 1, RESOLUTION, RESOLUTION, generator=g) * 2 - 1
    out = torch.where((kind == 1).view(-1, 1, 1, 1), noise, out)
    blobs = F.interpolate(torch.rand(n, 1, 4, 4, generator=g) * 2 - 1, size=RESOLUTION, mode="bicubic",
                          align_corners=False).clamp(-1, 1)
    return torch.where((kind == 2).view(-1, 1, 1, 1), blobs, out)


@dataclass
class TrainedClassifier:
    model: DigitClassifier
    heldout_accuracy: float


def train_digit_classifier(epochs: int = 30, seed: int = TRAIN_SEED) -> TrainedClassifier:
    """Train on 1,500 digits, report accuracy on the other 297 (never trained on)."""
    data = digits(resolution=RESOLUTION, channels=1)
    x = data.images.permute(0, 3, 1, 2).float().div(127.5).sub(1)
    y = data.labels
    g = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(x), generator=g)
    train_idx, test_idx = order[:1500], order[1500:]
    torch.manual_seed(seed)
    model = DigitClassifier()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=epochs * math.ceil(1500 / 64))
    for _ in range(epochs):
        model.train()
        for batch in train_idx[torch.randperm(len(train_idx), generator=g)].split(64):
            neg = _negatives(len(batch) // 4, g)
            inputs = torch.cat([_augment(x[batch], g), neg])
            targets = torch.cat([y[batch], torch.full((len(neg),), NOT_A_DIGIT)])
            loss = F.cross_entropy(model(inputs), targets)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    model.eval()
    with torch.no_grad():
        accuracy = (model(x[test_idx]).argmax(1) == y[test_idx]).float().mean().item()
    return TrainedClassifier(model, accuracy)


def load_digit_classifier(directory: Path | None = None) -> TrainedClassifier:
    """The cached classifier; trained and cached on first use."""
    key = hashlib.sha1(f"digits-classifier-v{VERSION}-seed{TRAIN_SEED}-torch{torch.__version__}".encode())
    path = (directory or cache_dir()) / f"digit-classifier-{key.hexdigest()[:12]}.pt"
    if path.is_file():
        state = load_checkpoint(path)
        model = DigitClassifier()
        model.load_state_dict(state["weights"])
        return TrainedClassifier(model.eval(), float(state["heldout_accuracy"]))
    trained = train_digit_classifier()
    save_checkpoint(path, {"weights": trained.model.state_dict(), "heldout_accuracy": trained.heldout_accuracy})
    return trained


@dataclass
class DigitReport:
    """How an independent classifier reads a batch of generated digits."""

    count: int
    confident_fraction: float  # share of samples read with probability >= threshold
    classes_found: int  # digits (0-9) read confidently at least once
    class_counts: list[int]  # confident reads per digit

    def summary(self) -> str:
        return (f"{self.classes_found}/10 digits found; {self.confident_fraction:.1%} of {self.count} samples read "
                f"confidently; per digit: {self.class_counts}")


@torch.no_grad()
def read_digits(classifier: nn.Module, images: torch.Tensor, threshold: float = 0.9) -> DigitReport:
    probs = torch.cat([classifier(chunk).softmax(1) for chunk in images.split(500)])
    confidence, predicted = probs.max(1)
    confident = confidence >= threshold
    confident &= predicted != NOT_A_DIGIT
    counts = torch.bincount(predicted[confident], minlength=11)[:10].tolist()
    return DigitReport(len(images), confident.float().mean().item(), sum(c > 0 for c in counts), counts)
