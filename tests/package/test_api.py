"""The Python API at the package's face: ganforge.train / load / sample / translate / evaluate / save_grid,
the README's example as written, and the same run from Python as from the command line."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest
import torch

import ganforge
from ganforge.cli import main
from ganforge.config import TrainConfig, flag_name
from ganforge.errors import GanforgeError
from ganforge.models import model_specs

from helpers import REPO

README = REPO / "README.md"
FLAT_RUN = REPO / "tests" / "fixtures" / "flat-config-run"  # written with the flat config
FIELD_NAMES = {f.name for f in fields(TrainConfig)}


@pytest.fixture(scope="module", autouse=True)
def _one_thread(one_thread):
    with one_thread():
        yield


def tiny_settings(spec) -> dict:
    """A one-step run of this model at the size its spec's example declares, on data it takes."""
    data = "ring" if spec.points else "edges2digits" if spec.inputs == "image" else "digits"
    sized = {k: v for k, v in spec.example_args.items() if k in FIELD_NAMES and k != "channels"}
    return {"data": data, **sized, "batch_size": 4, "total_steps": 1, "log_every": 1, "sample_every": 1,
            "checkpoint_every": 1, "sample_count": 4, "device": "cpu", "seed": 0}


def as_flags(settings: dict) -> list[str]:
    argv = []
    for key, value in settings.items():
        argv += [flag_name(key)] if value is True else [flag_name(key), str(value)]
    return argv


@pytest.mark.parametrize("spec", [s for s in model_specs() if s.pickable], ids=lambda s: s.name)
def test_python_and_cli_write_the_same_config_for_every_model(spec, tmp_path):
    settings = {**tiny_settings(spec), "model": spec.name}
    ganforge.train(out=tmp_path / "python", quiet=True, **settings)
    assert main(["train", *as_flags(settings), "--out", str(tmp_path / "cli"), "--quiet"]) == 0
    from_python = (tmp_path / "python" / "config.json").read_text()
    assert from_python == (tmp_path / "cli" / "config.json").read_text()
    saved = json.loads(from_python)
    assert saved["model"]["model"] == spec.name
    for name, value in spec.defaults.items():  # the model's own settings where none were given, from both
        if name not in settings:
            assert saved[TrainConfig.__dataclass_fields__[name].metadata["section"]][name] == value


def test_a_dcgan_run_saves_only_the_sections_that_apply(tmp_path):
    dcgan = next(s for s in model_specs() if s.name == "dcgan")
    result = ganforge.train(out=tmp_path / "run", quiet=True, **tiny_settings(dcgan))
    saved = json.loads((result.out_dir / "config.json").read_text())
    assert list(saved) == ["data", "model", "optimisation", "stabilisers", "schedule", "execution"]
    assert "l1_weight" not in json.dumps(saved) and "stage_images" not in json.dumps(saved)
    checkpoint = torch.load(result.checkpoint, weights_only=True)
    assert json.loads(checkpoint["config"]) == saved
    pix2pix = TrainConfig.from_saved(saved)  # absent sections load as their defaults
    assert pix2pix.l1_weight == 100.0 and pix2pix.g_width == 4


def test_presets_apply_from_python(tmp_path):
    result = ganforge.train(data="digits", out=tmp_path / "run", preset="recommended", resolution=16, g_width=4,
                            d_width=4, total_steps=1, batch_size=4, sample_count=4, quiet=True)
    saved = TrainConfig.from_saved((result.out_dir / "config.json").read_text())
    assert (saved.preset, saved.loss, saved.ema_beta, saved.spectral_norm) == ("recommended", "hinge", 0.999, True)
    assert saved.latent_classes == 40 and saved.g_width == 4  # given values still win


def test_the_flat_config_run_samples_and_resumes(tmp_path, capsys):
    run = tmp_path / "old"
    shutil.copytree(FLAT_RUN, run)
    model = ganforge.load(run)
    images = model.sample(4, seed=0)
    assert images.shape == (4, 1, 16, 16) and images.min() >= -1 and images.max() <= 1
    assert torch.equal(images, model.sample(4, seed=0)) and model.config.g_width == 4
    assert main(["sample", str(run), "-n", "4", "-o", str(tmp_path / "grid.png")]) == 0
    assert main(["train", "--resume", str(run), "--steps", "3", "--quiet"]) == 0
    assert "stopped at step 3" in capsys.readouterr().out
    resumed = json.loads((run / "config.json").read_text())
    assert resumed["schedule"]["total_steps"] == 3 and resumed["model"]["g_width"] == 4  # now in sections
    assert resumed["stabilisers"]["augment"] == json.loads((FLAT_RUN / "config.json").read_text())["augment"]
    assert ganforge.load(run).step == 3


def test_load_sample_labels_translate_and_save_grid(tmp_path):
    result = ganforge.train(data="digits", out=tmp_path / "cond", conditional=True, resolution=16, g_width=4,
                            d_width=4, total_steps=1, batch_size=4, sample_count=4, quiet=True)
    model = ganforge.load(result.checkpoint)
    sevens = model.sample(3, labels="7")
    assert sevens.shape == (3, 1, 16, 16)
    assert model.sample(2, labels=[0, 1]).shape == (2, 1, 16, 16)
    with pytest.raises(GanforgeError, match="one class for all"):
        model.sample(3, labels=[0, 1])
    with pytest.raises(GanforgeError, match="not a pix2pix or cyclegan run"):
        model.translate(torch.zeros(1, 16, 16))
    frames = model.interpolate(walks=2, points=2, frames=2, out=tmp_path / "walk.gif")
    assert len(frames) == 4 and (tmp_path / "walk.gif").is_file()
    path = ganforge.save_grid(sevens, tmp_path / "grid.png", nrow=3)
    assert path.is_file()


def test_translate_a_pix2pix_run(tmp_path):
    pix2pix = next(s for s in model_specs() if s.name == "pix2pix")
    result = ganforge.train(out=tmp_path / "p2p", quiet=True, model="pix2pix", **tiny_settings(pix2pix))
    model = ganforge.load(result.out_dir)
    out = model.translate(torch.rand(1, 20, 24) * 2 - 1)  # any size: padded to the stride, cropped back
    assert out.shape == (1, 20, 24) and out.min() >= -1 and out.max() <= 1
    with pytest.raises(GanforgeError, match="ganforge translate"):
        model.sample(2)


def test_bad_settings_from_python_are_named_like_flags(tmp_path):
    with pytest.raises(GanforgeError, match="unknown setting"):
        ganforge.train(data="digits", out=tmp_path / "r", learning_rate=1e-3)
    with pytest.raises(GanforgeError, match="--model: unknown model 'conditional-gan'"):
        ganforge.train(data="digits", out=tmp_path / "r", model="conditional-gan")
    with pytest.raises(GanforgeError, match=r"only the run's length \(--steps, --epochs, --max-minutes\)"):
        ganforge.train(out=tmp_path / "r", resume=True, lr_g=0.1)
    assert not (tmp_path / "r").exists()  # nothing made before the settings were checked


def test_train_stays_the_function_after_the_training_package_is_imported():
    import ganforge.training.loop as loop  # importing the subpackage must not shadow the public function

    assert callable(ganforge.train) and ganforge.train.__module__ == "ganforge.api" and loop.Trainer
    assert ganforge.__version__ and "settings" in ganforge.train.__doc__


def test_the_readme_python_example_runs_as_written(tmp_path):
    """README's first python block, in a fresh process; 300 steps are too slow for the fast tier, so the test
    substitutes 2 by text replacement (the only change), and a few threads keep it quick on a shared machine."""
    code = re.search(r"```python\n(.*?)```", README.read_text(), re.S).group(1)
    assert "total_steps=300" in code
    code = code.replace("total_steps=300", "total_steps=2")
    src = Path(ganforge.__file__).resolve().parent.parent
    proc = subprocess.run([sys.executable, "-c", "import torch; torch.set_num_threads(2)\n" + code], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600,
                          env={"PYTHONPATH": str(src), "PATH": "/usr/bin:/bin", "HOME": str(Path.home())})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "runs" / "api-demo" / "grid.png").is_file()
    scores = proc.stdout.strip().splitlines()[-1]
    assert "'kid'" in scores and "'step': 2" in scores
