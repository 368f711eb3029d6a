"""cyclegan from the command line: every data layout, resume, translate at any size, export, bad folders."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.checkpoint import load_checkpoint
from ganforge.config import TrainConfig
from ganforge.data.unpaired import UnpairedDataset
from ganforge.training.loop import Trainer
from tests.helpers import run_cli

TINY = ["--model", "cyclegan", "--resolution", "16", "--g-width", "4", "--d-width", "4", "--patch-size", "16",
        "--resnet-blocks", "1", "--batch-size", "2", "--steps", "2", "--log-every", "1", "--sample-every", "2",
        "--precision", "fp32", "--device", "cpu", "--quiet"]


@pytest.fixture(scope="module", autouse=True)
def _one_thread(one_thread):
    with one_thread():
        yield


def write_images(folder: Path, names: list[str], seed: int, sizes=((20, 24), (30, 18), (17, 17))) -> None:
    """Random colour images of varied sizes (H, W) under the given names."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        h, w = sizes[i % len(sizes)]
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(folder / name)


def make_layout(root: Path, layout: str) -> str:
    """Data in one layout; A has a file that is not an image; one name is in both A and B (a known pair)."""
    if layout == "colon":
        write_images(root / "horses", ["h1.png", "h2.png", "h3.jpg", "both.png"], 0)
        write_images(root / "zebras", ["z1.png", "z2.png", "both.png"], 1)
        (root / "horses" / "broken.png").write_bytes(b"not an image")
        return f"{root / 'horses'}:{root / 'zebras'}"
    prefix = "train/" if layout == "splits" else ""
    write_images(root / f"{prefix}A", ["a1.png", "a2.png", "a3.png", "both.png"], 0)
    write_images(root / f"{prefix}B", ["b1.png", "b2.png", "both.png"], 1)
    (root / f"{prefix}A" / "broken.png").write_bytes(b"not an image")
    if layout == "splits":  # held-out images with partners: a ground truth to score against
        write_images(root / "test" / "A", ["t1.png", "t2.png", "t3.png"], 2)
        write_images(root / "test" / "B", ["t1.png", "t2.png", "t3.png"], 3)
    return str(root)


@pytest.mark.parametrize("layout", ["colon", "AB", "splits"])
def test_two_steps_on_each_data_layout(layout, tmp_path, capsys):
    data = make_layout(tmp_path / "data", layout)
    code, err = run_cli(["train", "--data", data, "--out", str(tmp_path / "run"), *TINY], capsys)
    assert code == 0, err
    assert "broken.png" in err and "skipping" in err  # the bad file is named and skipped
    state = load_checkpoint(tmp_path / "run")
    assert state["recipe"] == "unpaired" and state["step"] == 2
    assert state["model_args"]["in_channels"] == 3 and state["model_args"]["out_channels"] == 3
    record = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])
    assert {"loss/cycle", "loss/identity", "loss/paired_L1", "loss/D"} <= set(record)  # both.png is a pair
    heldout = tmp_path / "run" / "heldout.json"
    assert heldout.is_file() == (layout == "splits")
    if layout == "splits":
        scores = json.loads(heldout.read_text())
        for direction in ("AtoB", "BtoA"):
            assert scores[direction]["pairs"] == 3 and 0 < scores[direction]["l1"] < 1
            assert scores[direction]["cycle_l1"] > 0 and np.isfinite(scores[direction]["kid"])


def tiny_domains(pairs: int = 2) -> UnpairedDataset:
    g = torch.Generator().manual_seed(0)
    a = torch.randint(0, 256, (7, 16, 16, 1), generator=g, dtype=torch.uint8)
    b = torch.randint(0, 256, (5, 16, 16, 3), generator=g, dtype=torch.uint8)
    partners = torch.arange(pairs).repeat(2, 1).T.reshape(-1, 2)
    return UnpairedDataset(a, b_images=b, partners=partners)


CONFIG = TrainConfig(model="cyclegan", data="tiny-domains", resolution=16, channels=3, g_width=4, d_width=4,
                     patch_size=16, resnet_blocks=1, batch_size=2, pool_size=3, total_steps=3, log_every=50,
                     sample_every=50, checkpoint_every=1, sample_count=4, precision="fp32", device="cpu", seed=0)


def test_resume_continues_exactly(tmp_path):
    """Weights, optimisers, the three data streams and the history buffers all continue where they stopped.
    (Constant rates: a decay spread over the run's length would differ between a 2-step and a 3-step run.)"""
    data = tiny_domains()
    config = dataclasses.replace(CONFIG, lr_decay_start=None)
    whole = Trainer(config, tmp_path / "whole", dataset=data, quiet=True)
    whole.run()
    Trainer(dataclasses.replace(config, total_steps=2), tmp_path / "parts", dataset=data, quiet=True).run()
    rest = Trainer(config, tmp_path / "parts", resume=True, dataset=data, quiet=True)
    rest.run()
    for a, b in zip(whole.G.state_dict().values(), rest.G.state_dict().values()):
        assert torch.equal(a, b)
    for a, b in zip(whole.D.state_dict().values(), rest.D.state_dict().values()):
        assert torch.equal(a, b)
    for pool_whole, pool_rest in zip(whole.recipe.pools, rest.recipe.pools):
        assert len(pool_whole.stored) == 3
        assert all(torch.equal(x, y) for x, y in zip(pool_whole.stored, pool_rest.stored))


@pytest.fixture(scope="module")
def grey_to_colour_run(tmp_path_factory):
    """A 1-step run from grey (A) to colour (B) images."""
    out = tmp_path_factory.mktemp("runs") / "cg"
    Trainer(dataclasses.replace(CONFIG, total_steps=1), out, dataset=tiny_domains(), quiet=True).run()
    return out


@pytest.mark.parametrize("scale", ["native", "train"])
@pytest.mark.parametrize("direction,mode", [("AtoB", "RGB"), ("BtoA", "L")])
def test_translate_keeps_an_odd_size_in_both_directions(grey_to_colour_run, scale, direction, mode, tmp_path, capsys):
    odd = np.random.default_rng(0).integers(0, 256, (61, 103, 3), dtype=np.uint8)
    Image.fromarray(odd).save(tmp_path / "odd.png")
    out = tmp_path / "out.png"
    code, err = run_cli(["translate", str(grey_to_colour_run), str(tmp_path / "odd.png"), "-o", str(out),
                         "--direction", direction, "--scale", scale], capsys)
    assert code == 0, err
    result = Image.open(out)
    assert result.size == (103, 61) and result.mode == mode
    assert ("3.8x the 16 px images" in err) == (scale == "native")  # a warning only when translating at a far scale


def test_export_both_directions_with_parity(grey_to_colour_run, tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    for direction, channels in (("AtoB", 1), ("BtoA", 3)):
        out = tmp_path / f"{direction}.onnx"
        code, err = run_cli(["export", str(grey_to_colour_run), "-o", str(out), "--direction", direction], capsys)
        assert code == 0, err
        import onnxruntime as ort

        session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
        x = np.random.default_rng(1).uniform(-1, 1, (2, channels, 16, 16)).astype(np.float32)
        got = session.run(None, {"input": x})[0]
        assert got.shape == (2, 4 - channels, 16, 16)
    code, err = run_cli(["export", str(grey_to_colour_run), "-o", str(tmp_path / "x.onnx"), "--direction", "CtoD"],
                        capsys)
    assert code == 2


def test_bad_folders_are_one_line_errors(tmp_path, capsys):
    write_images(tmp_path / "A", ["a.png"], 0)
    write_images(tmp_path / "plain", ["p.png"], 0)
    write_images(tmp_path / "lonely" / "A", ["a.png"], 0)  # the mismatched layout: A/ with no B/ beside it
    (tmp_path / "empty").mkdir()
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "x.png").write_bytes(b"nope")
    cases = {
        f"{tmp_path / 'A'}:{tmp_path / 'empty'}": "empty: no image files found",
        f"{tmp_path / 'A'}:{tmp_path / 'missing'}": "missing: no such folder",
        str(tmp_path / "lonely"): "has A/ but no B/ folder",
        str(tmp_path / "plain"): "no A/ and B/ folders",
        f"{tmp_path / 'A'}:{tmp_path / 'junk'}": "none of its 1 image files could be read",
    }
    for data, message in cases.items():
        code, err = run_cli(["train", "--data", data, "--out", str(tmp_path / "run"), *TINY], capsys)
        lines = [line for line in err.splitlines() if not line.startswith("warning:")]
        assert code == 2 and len(lines) == 1 and message in lines[0], (data, err)
        assert "Traceback" not in err and not (tmp_path / "run" / "checkpoints").exists()


def test_the_web_pages_translate_tab_switches_direction(grey_to_colour_run):
    pytest.importorskip("gradio")
    from ganforge.serve.app import TABS
    from ganforge.serve.runs import open_runs
    from ganforge.serve.translate import translate_picture

    [run] = open_runs([grey_to_colour_run]).values()
    assert run.kind == "unpaired"
    assert [tab.title for tab in TABS if tab.supports(run)] == ["Translate", "Training monitor", "Stylize"]
    picture = Image.new("RGB", (40, 24), (200, 30, 30))
    seen, output = translate_picture(run, picture, fit=True, direction="A -> B")
    assert seen.shape == (10, 16, 1) and output.shape == (10, 16, 3)  # grey A in, colour B out
    seen, output = translate_picture(run, picture, fit=True, direction="B -> A")
    assert seen.shape == (10, 16, 3) and output.shape == (10, 16, 1)
