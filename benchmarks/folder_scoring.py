"""Benchmark folders nobody on the project drew, and how generated images are scored against them.

Shared by benchmarks/architectures.py, own_images.py and auto_budget.py:
- `tuxpaint`: Debian's Tux Paint stamps (`sudo apt-get install tuxpaint-stamps-default`), a quarter of each of
  the 17 category folders held out;
- `photos`: crops of the photographs that ship with scikit-image and scikit-learn, one category folder per
  photo; the held-out crops come from other photos than the training crops;
- `shapes`: the built-in shapes (training: the built-in set; classifier and floor: 2,000 images of seed 0,
  held out: seed 1).
A `FeatureSpace` trains a small classifier on the training images only (metrics/data_classifier.py) and scores
KID x 1000 against the held-out images in its features; `real_vs_generated` trains a second small classifier to
tell real from generated images and reports its accuracy on images it has not seen (50% = indistinguishable).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ganforge.config.train_config import TrainConfig
from ganforge.data import load_dataset
from ganforge.data.builtin import shapes
from ganforge.data.dataset import ImageDataset
from ganforge.errors import GanforgeError
from ganforge.metrics.data_classifier import train_data_classifier
from ganforge.metrics.features import FeatureExtractor, extract_features, uint8_batches
from ganforge.metrics.kid import kid
from ganforge.runtime import torch_threads
from ganforge.training.loop import Trainer, TrainResult

TUXPAINT = Path("/usr/share/tuxpaint/stamps")
SAMPLES = 1000  # generated images scored per run
# photographs: training crops come from the first group, held-out crops from the second (never trained on)
TRAIN_PHOTOS = ("astronaut", "coffee", "rocket", "hubble_deep_field", "camera", "coins", "brick", "china")
HELDOUT_PHOTOS = ("chelsea", "immunohistochemistry", "retina", "grass", "moon", "gravel", "flower")
CROPS_PER_PHOTO = 120
CROP_SIZE = 128  # crops are stored at this size and loaded at the run's resolution


def _link_split(files: list[Path], root: Path, held: set[Path], out: Path) -> tuple[Path, Path]:
    """Folders of links: the training files and the held-out ones, keeping their category folders."""
    train_dir, heldout_dir = out.with_name(out.name + "-train"), out.with_name(out.name + "-heldout")
    for folder, members in ((train_dir, [f for f in files if f not in held]), (heldout_dir, sorted(held))):
        _write_once(folder, partial(_link_files, members, root))
    return train_dir, heldout_dir


def _link_files(members: list[Path], root: Path, folder: Path) -> None:
    for f in members:
        rel = f.relative_to(root)
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).symlink_to(f)


def _write_once(folder: Path, write: Callable[[Path], None]) -> None:
    """Let `write` fill `folder` unless it exists. Each process writes its own partial copy and renames it into
    place, so shards started together neither collide nor leave a half-written folder behind."""
    if folder.exists():
        return
    mine = folder.with_name(f"{folder.name}.partial-{os.getpid()}")
    shutil.rmtree(mine, ignore_errors=True)
    write(mine)
    try:
        mine.rename(folder)
    except OSError:  # another process got there first: its copy is the same
        if not folder.exists():
            raise
        shutil.rmtree(mine)


def split_tuxpaint(out: Path) -> tuple[Path, Path]:
    """(training folder, held-out folder): a quarter of each category held out."""
    if not TUXPAINT.is_dir():
        raise GanforgeError(f"{TUXPAINT}: not found; install it with `sudo apt-get install tuxpaint-stamps-default`")
    files = sorted(p for p in TUXPAINT.rglob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg")
                   and len(p.relative_to(TUXPAINT).parts) > 1)
    held: set[Path] = set()
    for category in sorted({f.relative_to(TUXPAINT).parts[0] for f in files}):
        held |= set([f for f in files if f.relative_to(TUXPAINT).parts[0] == category][::4])
    return _link_split(files, TUXPAINT, held, out / "data" / "tuxpaint")


def _photo(name: str) -> np.ndarray:
    """An RGB uint8 photograph shipped with scikit-image or scikit-learn."""
    if name in ("china", "flower"):
        from sklearn.datasets import load_sample_image

        return load_sample_image(f"{name}.jpg")
    from skimage import color, data

    image = getattr(data, name)()
    return (color.gray2rgb(image) if image.ndim == 2 else image[..., :3]).astype(np.uint8)


def _write_crops(names: tuple[str, ...], folder: Path, *, seed: int) -> None:
    """CROPS_PER_PHOTO square crops of random size (a quarter to the whole of the short side) per photo."""
    rng = np.random.default_rng(seed)
    for name in names:
        photo = _photo(name)
        (folder / name).mkdir(parents=True, exist_ok=True)
        height, width = photo.shape[:2]
        short = min(height, width)
        for i in range(CROPS_PER_PHOTO):
            side = int(rng.integers(short // 4, short + 1))
            y, x = int(rng.integers(0, height - side + 1)), int(rng.integers(0, width - side + 1))
            crop = Image.fromarray(photo[y:y + side, x:x + side]).resize((CROP_SIZE, CROP_SIZE), Image.LANCZOS)
            crop.save(folder / name / f"{i:03d}.png")


def photo_crops(out: Path) -> tuple[Path, Path]:
    """(training folder, held-out folder) of photograph crops, written once."""
    train_dir, heldout_dir = out / "data" / "photos-train", out / "data" / "photos-heldout"
    for names, folder, seed in ((TRAIN_PHOTOS, train_dir, 0), (HELDOUT_PHOTOS, heldout_dir, 1)):
        _write_once(folder, partial(_write_crops, names, seed=seed))
    return train_dir, heldout_dir


class FeatureSpace:
    """Per data set and resolution: the training source, held-out real features and the floor (the KID of real
    training images against the held-out ones)."""

    def __init__(self, data: str, resolution: int, out: Path) -> None:
        self.data, self.resolution = data, resolution
        if data == "shapes":
            self.source = "shapes"
            train = shapes(resolution=resolution, count=2000, seed=0)
            heldout = shapes(resolution=resolution, count=SAMPLES, seed=1)
        else:
            train_dir, heldout_dir = split_tuxpaint(out) if data == "tuxpaint" else photo_crops(out)
            self.source = str(train_dir)
            train = load_dataset(self.source, resolution, 3, quiet=True)
            heldout = load_dataset(str(heldout_dir), resolution, 3, quiet=True)
        trained = train_data_classifier(train, heldout if data != "photos" else None,
                                        epochs=20 if data == "shapes" else 60, seed=0)
        self.extractor: FeatureExtractor = trained.extractor
        self.train_images, self.heldout_images = train.images, heldout.images
        self.heldout = self.features(heldout.images)
        self.floor = self.kid(self.features(train.images[:SAMPLES]))
        read = f", {trained.heldout_accuracy:.0%} held-out" if trained.heldout_accuracy is not None else ""
        self.note = (f"{data} {resolution} px: {len(train)} training / {len(heldout)} held-out images; classifier "
                     f"accuracy {trained.train_accuracy:.0%} train{read}; floor KID x1000 (real training images) "
                     f"{self.floor:.2f}")

    def features(self, images_uint8: torch.Tensor) -> torch.Tensor:
        return extract_features(self.extractor, uint8_batches(images_uint8)).features

    def kid(self, fake_features: torch.Tensor) -> float:
        return 1000 * kid(self.heldout, fake_features, subsets=50, subset_size=min(500, len(self.heldout))).mean

    def real_vs_generated(self, fake_train: torch.Tensor, fake_test: torch.Tensor, seed: int = 0) -> float:
        """Held-out accuracy of a small classifier trained on real training images against generated ones
        (`fake_train`), tested on held-out real images against other generated ones: 0.5 = indistinguishable."""
        count = min(len(self.train_images), len(fake_train), SAMPLES // 2)
        test = min(len(self.heldout_images), len(fake_test), SAMPLES // 2)
        g = torch.Generator().manual_seed(seed)
        real_train = self.train_images[torch.randperm(len(self.train_images), generator=g)[:count]]
        real_test = self.heldout_images[torch.randperm(len(self.heldout_images), generator=g)[:test]]
        train = _two_classes(real_train, fake_train[:count])
        heldout = _two_classes(real_test, fake_test[:test])
        trained = train_data_classifier(train, heldout, epochs=15, seed=seed, width=16)
        return float(trained.heldout_accuracy)


def _two_classes(real: torch.Tensor, fake: torch.Tensor) -> ImageDataset:
    labels = torch.cat([torch.zeros(len(real), dtype=torch.long), torch.ones(len(fake), dtype=torch.long)])
    return ImageDataset(torch.cat([real, fake]), labels, ["real", "generated"], "real-vs-generated")


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """The options every sharded folder benchmark takes: where its runs go, its share, the table."""
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--shard", default="0/1", help="I/N: do every N-th run, starting at the I-th")
    parser.add_argument("--table", action="store_true", help="print the table of finished runs and stop")


def take_shard(work: list, shard: str, out: Path) -> tuple[list, Path]:
    """--shard I/N: this process's share of `work` (every N-th item from the I-th) and its results file."""
    index, count = (int(v) for v in shard.split("/"))
    return [w for i, w in enumerate(work) if i % count == index], out / f"results-{index}-{os.getpid()}.jsonl"


def record_run(record: dict, run_dir: Path, results: Path, run: Callable[[], dict]) -> None:
    """Train and score one run into `record` (its error instead, if it fails), print it and append it to `results`."""
    try:
        if run_dir.exists():  # an interrupted run: start it again
            shutil.rmtree(run_dir)
        record |= run()
    except GanforgeError as err:
        record["error"] = str(err)
    print(json.dumps(record), flush=True)
    with open(results, "a") as handle:
        handle.write(json.dumps(record) + "\n")


def train_for_cpu_time(config: TrainConfig, run_dir: Path) -> tuple[Trainer, TrainResult, float]:
    """One run on one thread whose time budget counts this process's CPU seconds (fair on a shared machine):
    the trainer, its result and the CPU seconds it took. Ctrl-C stops the whole benchmark."""
    with torch_threads(1):
        trainer = Trainer(config, run_dir, quiet=True)
        trainer.clock = time.process_time
        start = time.process_time()
        result = trainer.run()
        cpu = time.process_time() - start
    if result.status == "interrupted":
        raise KeyboardInterrupt
    return trainer, result, cpu
