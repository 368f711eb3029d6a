"""pix2pix end to end: training on pairs, checkpoints, resume, translate at any size, held-out scores."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.checkpoint import load_checkpoint
from ganforge.cli import main
from ganforge.config import TrainConfig
from ganforge.data.paired import make_pairs
from ganforge.errors import GanforgeError
from ganforge.inference.translate import pad_to_multiple, translate_files
from ganforge.training.loop import Trainer

CONFIG = TrainConfig(model="pix2pix", data="tiny-pairs", resolution=16, channels=3, g_width=4, d_width=4,
                     patch_size=16, batch_size=4, total_steps=4, log_every=50, sample_every=4, checkpoint_every=2,
                     sample_count=4, precision="fp32", device="cpu", seed=0)


def tiny_pairs(count: int = 12, size: int = 16):
    """Grey inputs whose colour version is the target: a real (if easy) mapping."""
    g = torch.Generator().manual_seed(0)
    targets = torch.randint(0, 256, (count, size, size, 3), generator=g, dtype=torch.uint8)
    inputs = targets.float().mean(3, keepdim=True).round().to(torch.uint8)
    return make_pairs(inputs, targets, [f"p{i}" for i in range(count)])


def test_pix2pix_trains_and_checkpoints_its_networks(tmp_path: Path) -> None:
    trainer = Trainer(CONFIG, tmp_path / "run", dataset=tiny_pairs(), quiet=True)
    result = trainer.run()
    state = load_checkpoint(result.checkpoint)
    assert state["recipe"] == "pix2pix" and state["model"] == "pix2pix"
    assert state["model_args"]["in_channels"] == 1 and state["model_args"]["out_channels"] == 3
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert {"loss/D", "loss/G", "loss/L1", "loss/G_adv"} <= set(records[-1])
    grid = np.asarray(Image.open(tmp_path / "run" / "samples" / "0000004.png"))
    assert grid.shape[:2] == (3 * 18 + 2, 4 * 18 + 2)  # rows: input, output, target


def test_l1_only_skips_the_discriminator(tmp_path: Path) -> None:
    config = dataclasses.replace(CONFIG, adversarial_weight=0.0, total_steps=2)
    trainer = Trainer(config, tmp_path / "run", dataset=tiny_pairs(), quiet=True)
    before = [p.clone() for p in trainer.D.parameters()]
    trainer.run()
    assert all(torch.equal(a, b) for a, b in zip(before, trainer.D.parameters()))
    record = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])
    assert "loss/D" not in record and record["loss/G"] == pytest.approx(100 * record["loss/L1"], rel=1e-5)


def test_pix2pix_resume_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    """Dropout noise, data order and paired crops all continue exactly where they stopped."""
    data = tiny_pairs(size=18)  # stored larger than the 16 px training size: random crops
    config = dataclasses.replace(CONFIG, random_crop=True, total_steps=2, checkpoint_every=1, sample_every=50)
    whole = Trainer(config, tmp_path / "whole", dataset=data, quiet=True)
    whole.run()
    first = Trainer(dataclasses.replace(config, total_steps=1), tmp_path / "parts", dataset=data, quiet=True)
    first.run()
    rest = Trainer(dataclasses.replace(config, total_steps=2), tmp_path / "parts", resume=True, dataset=data,
                   quiet=True)
    rest.run()
    for a, b in zip(whole.G.state_dict().values(), rest.G.state_dict().values()):
        assert torch.equal(a, b)


def test_translate_returns_the_input_size(tmp_path: Path) -> None:
    Trainer(dataclasses.replace(CONFIG, total_steps=1), tmp_path / "run", dataset=tiny_pairs(), quiet=True).run()
    odd = np.random.default_rng(0).integers(0, 256, (13, 21, 3), dtype=np.uint8)
    Image.fromarray(odd).save(tmp_path / "odd.png")
    (tmp_path / "many").mkdir()
    Image.fromarray(odd[:5, :7]).save(tmp_path / "many" / "tiny.png")
    Image.fromarray(odd).save(tmp_path / "many" / "again.jpg")
    [single] = translate_files(tmp_path / "run", [tmp_path / "odd.png"], tmp_path / "out.png")
    assert Image.open(single).size == (21, 13) and Image.open(single).mode == "RGB"
    written = translate_files(tmp_path / "run", [tmp_path / "many"], tmp_path / "outs")
    assert sorted(Image.open(p).size for p in written) == [(7, 5), (21, 13)]
    assert main(["translate", str(tmp_path / "run"), str(tmp_path / "odd.png"), "-o", str(tmp_path / "c.png")]) == 0


def test_padding_reaches_the_stride_and_crops_back() -> None:
    x = torch.randn(1, 3, 13, 21)
    padded, (left, right, top, bottom) = pad_to_multiple(x, 16)
    assert padded.shape[-2:] == (16, 32)
    assert torch.equal(padded[..., top : top + 13, left : left + 21], x)


def test_translate_refuses_a_non_pix2pix_run(tiny_config: TrainConfig, tmp_path: Path) -> None:
    from ganforge.training.loop import train

    train(dataclasses.replace(tiny_config, total_steps=1), tmp_path / "run", quiet=True)
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "x.png")
    with pytest.raises(GanforgeError, match="not a translation run"):
        translate_files(tmp_path / "run", [tmp_path / "x.png"], tmp_path / "y.png")


def test_sampling_a_pix2pix_run_points_to_translate(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    Trainer(dataclasses.replace(CONFIG, total_steps=1), tmp_path / "run", dataset=tiny_pairs(), quiet=True).run()
    assert main(["sample", str(tmp_path / "run"), "-o", str(tmp_path / "s.png")]) == 2
    assert "use: ganforge translate" in capsys.readouterr().err


def test_heldout_scores_at_the_end_of_cli_training(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """A side-by-side folder with train/ and val/: training ends with scores on val/ in heldout.json."""
    pairs = tiny_pairs(6, 16)
    for split, index in (("train", range(4)), ("val", range(4, 6))):
        for i in index:
            side = np.concatenate([pairs.inputs[i].expand(-1, -1, 3).numpy(), pairs.targets[i].numpy()], axis=1)
            (tmp_path / "data" / split).mkdir(parents=True, exist_ok=True)
            Image.fromarray(side).save(tmp_path / "data" / split / f"{i}.png")
    code = main(["train", "--model", "pix2pix", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "run"),
                 "--steps", "2", "--resolution", "16", "--g-width", "4", "--d-width", "4", "--patch-size", "16",
                 "--batch-size", "2", "--precision", "fp32", "--quiet"])
    assert code == 0
    scores = json.loads((tmp_path / "run" / "heldout.json").read_text())
    assert scores["pairs"] == 2 and 0 <= scores["ssim"] <= 1 and scores["l1"] > 0
    assert "held-out scores on 2 pairs" in capsys.readouterr().out
    assert main(["eval-translation", str(tmp_path / "run"), "--data", str(tmp_path / "data" / "train")]) == 0


def test_pix2pix_config_errors(tmp_path: Path) -> None:
    with pytest.raises(GanforgeError, match="--patch-size 70 is too large for 16 px"):
        Trainer(dataclasses.replace(CONFIG, patch_size=70), tmp_path / "a", dataset=tiny_pairs(), quiet=True)
    with pytest.raises(GanforgeError, match="both 0"):
        dataclasses.replace(CONFIG, l1_weight=0, adversarial_weight=0).validate()
    with pytest.raises(GanforgeError, match="--conditional is for noise-to-image models"):
        Trainer(dataclasses.replace(CONFIG, conditional=True), tmp_path / "b", dataset=tiny_pairs(), quiet=True)
