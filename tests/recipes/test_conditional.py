"""Class-conditional GAN: the label really steers G and D; training, checkpoints and --class sampling."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.cli import main
from ganforge.config import TrainConfig
from ganforge.errors import GanforgeError
from ganforge.inference.sampling import load_generator, sample_images
from ganforge.models import create_model
from ganforge.training.loop import train

ARGS = dict(resolution=16, channels=1, latent_dim=8, g_width=4, d_width=4, num_classes=3)


def test_changing_the_label_changes_the_generated_image() -> None:
    torch.manual_seed(0)
    G, _ = create_model("conditional-dcgan", **ARGS)
    z = torch.randn(1, 8).repeat(4, 1)  # the same z for every sample: only the label differs
    with torch.no_grad():
        images = G(z, torch.tensor([0, 1, 2, 1]))
    assert (images[0] - images[1]).abs().max() > 1e-3
    assert (images[1] - images[2]).abs().max() > 1e-3
    assert torch.equal(images[1], images[3])  # the same label gives the same image


def test_projection_discriminator_judges_image_and_label_together() -> None:
    torch.manual_seed(0)
    _, D = create_model("conditional-dcgan", **ARGS)
    D.eval()
    torch.nn.init.normal_(D.embed.weight, 0, 1)  # trained embeddings are not near zero
    x = torch.randn(1, 1, 16, 16).repeat(3, 1, 1, 1)
    logits = D(x, torch.tensor([0, 1, 2]))
    assert logits.shape == (3,) and len(set(logits.tolist())) == 3


@pytest.fixture
def conditional_run(tiny_config: TrainConfig, tmp_path: Path) -> Path:
    config = dataclasses.replace(tiny_config, conditional=True, total_steps=2, sample_count=6, log_every=50,
                                 sample_every=50)
    train(config, tmp_path / "run", quiet=True)
    return tmp_path / "run"


def test_conditional_run_samples_one_row_per_class(conditional_run: Path) -> None:
    grid = np.asarray(Image.open(sorted((conditional_run / "samples").glob("*.png"))[-1]))
    assert grid.shape[0] == 10 * (16 + 2) + 2  # ten digit rows of 16 px plus padding
    loaded = load_generator(conditional_run)
    assert loaded.class_names == [str(i) for i in range(10)]
    images, per_row = sample_images(loaded, 5, classes=["7", "2"])
    assert images.shape == (10, 1, 16, 16) and per_row == 5


def test_sample_cli_by_class_and_bad_class(conditional_run: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture) -> None:
    assert main(["sample", str(conditional_run), "--class", "3", "-n", "4", "-o", str(tmp_path / "s.npy")]) == 0
    assert np.load(tmp_path / "s.npy").shape == (4, 16, 16, 1)
    assert main(["sample", str(conditional_run), "--class", "cat", "-o", str(tmp_path / "t.png")]) == 2
    assert "--class cat: no such class" in capsys.readouterr().err


def test_conditional_needs_labels(tiny_config: TrainConfig, tmp_path: Path) -> None:
    folder = tmp_path / "flat"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(np.full((16, 16), i * 40, np.uint8)).save(folder / f"{i}.png")
    config = dataclasses.replace(tiny_config, data=str(folder), conditional=True)
    with pytest.raises(GanforgeError, match="--conditional needs class labels"):
        train(config, tmp_path / "run", quiet=True)


def test_class_from_unconditional_run_is_refused(tiny_config: TrainConfig, tmp_path: Path) -> None:
    train(dataclasses.replace(tiny_config, total_steps=1), tmp_path / "run", quiet=True)
    with pytest.raises(GanforgeError, match="not a class-conditional model"):
        sample_images(load_generator(tmp_path / "run"), 2, classes=["1"])

