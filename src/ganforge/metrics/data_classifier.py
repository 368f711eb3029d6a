"""A feature space learned from the data itself, for folders where no pretrained network applies.

Inception's features need weights that may not be at hand, and they were learned on photographs; a folder of
drawings or icons is judged better by a small classifier trained on that folder's own real images, with its
sub-folders (categories) as labels. Its penultimate features feed KID; only real training images train it,
so held-out real images and generated ones are both new to it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.data.dataset import ImageDataset
from ganforge.errors import GanforgeError
from ganforge.images import composite_on_white, from_uint8
from ganforge.metrics.features import FeatureExtractor, weights_hash

INPUT_SIZE = 32  # every image is judged at 32 px: enough for category cues, cheap on a CPU
WIDTH = 32  # the first layer's channels; the features are 4x as many


class DataClassifier(nn.Module):
    """(N, C, H, W) in [-1, 1] -> (4 * width features, class logits)."""

    has_classifier = True

    def __init__(self, channels: int, classes: int, width: int = WIDTH) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(), nn.MaxPool2d(2),  # 16 px
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.BatchNorm2d(2 * width), nn.ReLU(), nn.MaxPool2d(2),  # 8 px
            nn.Conv2d(2 * width, 4 * width, 3, padding=1), nn.BatchNorm2d(4 * width), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(4 * width, classes))

    @staticmethod
    def prepare(images: torch.Tensor) -> torch.Tensor:
        return F.interpolate(images.float(), size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False,
                             antialias=True)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.body(self.prepare(images))
        return features, self.head(features)


@dataclass
class TrainedClassifier:
    extractor: FeatureExtractor
    train_accuracy: float
    heldout_accuracy: float | None  # on the held-out images given, when they have labels


def _augment(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Random flips and shifts of up to 3 px: a few hundred drawings are too few to learn categories from bare."""
    flip = torch.rand(len(x), generator=g) < 0.5
    x = torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)
    dy, dx = (int(v) for v in torch.randint(-3, 4, (2,), generator=g))
    return torch.roll(x, shifts=(dy, dx), dims=(2, 3))


def _prepared(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, H, W, C) -> the network's input; RGBA on white, as feature extraction shows every extractor."""
    return DataClassifier.prepare(composite_on_white(from_uint8(images)))


def _accuracy(network: DataClassifier, images: torch.Tensor, labels: torch.Tensor) -> float:
    network.eval()
    with torch.no_grad():
        predicted = torch.cat([network(chunk)[1].argmax(1) for chunk in images.split(500)])
    return (predicted == labels).float().mean().item()


def train_data_classifier(train: ImageDataset, heldout: ImageDataset | None = None, epochs: int = 30,
                          seed: int = 0, width: int = WIDTH) -> TrainedClassifier:
    """Train on `train`'s images and labels (every image needs one); score on `heldout` when it has labels."""
    if train.labels is None or len(train.class_names) < 2:
        raise GanforgeError(f"{train.name or 'the data'}: a data classifier needs at least two labelled classes "
                            "(sub-folders)")
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    images = _prepared(train.images)  # resized once: the network's input size
    labels = train.labels
    network = DataClassifier(images.shape[1], len(train.class_names), width)
    optimiser = torch.optim.Adam(network.parameters(), lr=2e-3)
    batch = min(64, len(images))
    steps = max(1, epochs * len(images) // batch)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, steps)
    for _ in range(steps):
        network.train()
        pick = torch.randint(0, len(images), (batch,), generator=g)
        _, logits = network(_augment(images[pick], g))
        loss = F.cross_entropy(logits, labels[pick])
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        schedule.step()
    network.eval()
    train_accuracy = _accuracy(network, images, labels)
    heldout_accuracy = None
    if heldout is not None and heldout.labels is not None:
        heldout_accuracy = _accuracy(network, _prepared(heldout.images), heldout.labels)
    extractor = FeatureExtractor(f"data:{train.name or 'folder'}", network,
                                 f"bilinear (antialiased) to {INPUT_SIZE} px",
                                 f"trained on {len(images)} real images, {len(train.class_names)} classes, seed {seed}",
                                 weights_hash(network))
    return TrainedClassifier(extractor, train_accuracy, heldout_accuracy)
