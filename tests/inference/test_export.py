"""Exported generators reproduce PyTorch within 1e-4, for batch sizes they were not traced with."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from ganforge.cli import main
from ganforge.errors import GanforgeError
from ganforge.inference.export import ExportResult, export_generator, export_module
from ganforge.inference.sampling import latents, load_generator
from ganforge.inference.translate import load_translator

from helpers import REPO

EXAMPLE = REPO / "docs" / "examples" / "onnx_generate.py"
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:DeprecationWarning")


@pytest.fixture(scope="module")
def onnx_export(trained_run, tmp_path_factory) -> ExportResult:
    pytest.importorskip("onnxruntime")
    return export_generator(trained_run, tmp_path_factory.mktemp("export") / "g.onnx")


@pytest.fixture(scope="module")
def torchscript_export(trained_run, tmp_path_factory) -> ExportResult:
    return export_generator(trained_run, tmp_path_factory.mktemp("export") / "g.pt")


@pytest.fixture(scope="module")
def exports(conditional_trained_run, pix2pix_trained_run, tmp_path_factory):
    """(kind, format) -> ExportResult, each made once for the parity and docs-example tests."""
    folder, made = tmp_path_factory.mktemp("export"), {}

    def get(kind: str, fmt: str) -> ExportResult:
        if (kind, fmt) not in made:
            if fmt == "onnx":
                pytest.importorskip("onnxruntime")
            run = conditional_trained_run if kind == "conditional" else pix2pix_trained_run
            made[kind, fmt] = export_generator(run, folder / f"{kind}{'.onnx' if fmt == 'onnx' else '.pt'}")
        return made[kind, fmt]

    return get


def _reference(run: Path, n: int) -> tuple[np.ndarray, np.ndarray]:
    loaded = load_generator(run)
    z = latents(n, loaded.latent_dim, seed=100 + n)
    with torch.no_grad():
        return z.numpy(), loaded.G(z).numpy()


@pytest.mark.parametrize("batch", [1, 5])
def test_onnx_matches_pytorch(trained_run, onnx_export, batch):
    import onnxruntime as ort

    assert onnx_export.format == "onnx" and onnx_export.max_abs_diff < 1e-4
    z, expected = _reference(trained_run, batch)
    session = ort.InferenceSession(str(onnx_export.path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"z": z})[0]
    assert got.shape == expected.shape == (batch, 1, 16, 16)
    assert np.abs(got - expected).max() < 1e-4


@pytest.mark.parametrize("batch", [1, 5])
def test_torchscript_matches_pytorch(trained_run, torchscript_export, batch):
    assert torchscript_export.format == "torchscript" and torchscript_export.max_abs_diff < 1e-4
    z, expected = _reference(trained_run, batch)
    module = torch.jit.load(str(torchscript_export.path))
    with torch.no_grad():
        got = module(torch.from_numpy(z)).numpy()
    assert got.shape == expected.shape == (batch, 1, 16, 16)
    assert np.abs(got - expected).max() < 1e-4


def test_export_refuses_a_model_that_does_not_match(tmp_path):
    """The parity check is real: a model whose exported graph differs from eager PyTorch is not written."""

    class Drifting(torch.nn.Module):
        def forward(self, z):
            return z * 2 if torch.jit.is_tracing() else z * 2 + 1e-3  # the file holds z * 2

    out = tmp_path / "drift.pt"
    with pytest.raises(GanforgeError, match="differs from PyTorch"):
        export_module(Drifting(), lambda n, g: (torch.randn(n, 3, generator=g),), out)
    assert not list(tmp_path.iterdir())  # neither the file nor its temporary remains


def test_cli_reports_parity_and_rejects_bad_names(trained_run, tmp_path, capsys):
    assert main(["export", str(trained_run), "-o", str(tmp_path / "g.pt")]) == 0
    assert "max abs difference vs PyTorch" in capsys.readouterr().out
    assert main(["export", str(trained_run), "-o", str(tmp_path / "g.bin")]) == 2
    assert "--format" in capsys.readouterr().err
    assert main(["export", str(trained_run), "-o", str(tmp_path / "g.pt"), "--format", "onnx"]) == 2
    assert ".onnx" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "nowhere"), "-o", str(tmp_path / "x.onnx")]) == 2
    assert "no such run" in capsys.readouterr().err


def test_torchscript_export_shows_the_user_no_tracer_warning(trained_run, tmp_path):
    """Tracing a generator whose layers branch on shapes (here the accelerated forms) warns; the export traces the
    plain generator and keeps any such warning to itself, since the file is checked against PyTorch at other batch
    sizes anyway."""
    import warnings

    from ganforge.accel import AccelPolicy, accelerate

    loaded = load_generator(trained_run)
    fast = accelerate(copy.deepcopy(loaded.G).float().eval(), AccelPolicy())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.jit.trace(fast, (latents(2, loaded.latent_dim, seed=0),), check_trace=False)
    assert any(issubclass(w.category, torch.jit.TracerWarning) for w in caught)  # otherwise this test proves nothing
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        export_generator(trained_run, tmp_path / "g.pt")
    assert not [w for w in caught if issubclass(w.category, torch.jit.TracerWarning)]
    proc = subprocess.run([sys.executable, "-m", "ganforge", "export", str(trained_run),
                           "-o", str(tmp_path / "cli.pt"), "--format", "torchscript"], capture_output=True, text=True)
    assert proc.returncode == 0 and "max abs difference vs PyTorch" in proc.stdout
    assert "TracerWarning" not in proc.stderr and "Warning" not in proc.stderr, proc.stderr


def test_cli_names_every_input_of_conditional_and_pix2pix_exports(conditional_trained_run, pix2pix_trained_run,
                                                                   tmp_path, capsys):
    assert main(["export", str(conditional_trained_run), "-o", str(tmp_path / "c.pt")]) == 0
    assert "z float32 (batch, 8), labels int64 (batch,) -> images (batch, 1, 16, 16)" in capsys.readouterr().out
    assert main(["export", str(pix2pix_trained_run), "-o", str(tmp_path / "p.pt")]) == 0
    assert "input float32 (batch, 1, 16, 16) -> images (batch, 1, 16, 16)" in capsys.readouterr().out


def _run_example(script: Path, *args: str) -> None:
    """Run a docs example in a fresh interpreter and check that it never imported torch or ganforge."""
    code = ("import runpy, sys; script = sys.argv[1]; sys.argv = sys.argv[1:];"
            "runpy.run_path(script, run_name='__main__');"
            "assert 'torch' not in sys.modules and 'ganforge' not in sys.modules, 'the example imported torch'")
    done = subprocess.run([sys.executable, "-c", code, str(script), *args], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr


def test_docs_example_runs_without_torch_or_ganforge(onnx_export, tmp_path):
    out = tmp_path / "grid.png"
    _run_example(EXAMPLE, str(onnx_export.path), str(out), "--num", "5")
    from PIL import Image

    assert Image.open(out).size == (3 * 16, 2 * 16)  # 5 images on a 3-column grid


def test_docs_examples_for_conditional_and_pix2pix_exports(exports, pix2pix_trained_run, tmp_path):
    from PIL import Image

    from ganforge.inference.translate import translate_files

    conditional = exports("conditional", "onnx")
    _run_example(EXAMPLE, str(conditional.path), str(tmp_path / "class2.png"), "--num", "4", "--class", "2")
    assert Image.open(tmp_path / "class2.png").size == (2 * 16, 2 * 16)  # (that labels matter: the parity test)

    edges = exports("pix2pix", "onnx")
    sketch = tmp_path / "sketch.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (16, 16), dtype=np.uint8)).save(sketch)
    _run_example(EXAMPLE.with_name("onnx_translate.py"), str(edges.path), str(sketch), str(tmp_path / "out.png"))
    expected = translate_files(pix2pix_trained_run, [sketch], tmp_path / "expected.png")[0]
    got, want = (np.asarray(Image.open(f), dtype=int) for f in (tmp_path / "out.png", expected))
    assert got.shape == want.shape == (16, 16) and np.abs(got - want).max() <= 1  # the same translation


def _run_exported(path: Path, inputs: dict[str, np.ndarray]) -> np.ndarray:
    """Run an .onnx file with ONNX Runtime or a .pt file with torch.jit, feeding inputs by name / in order."""
    if path.suffix == ".onnx":
        import onnxruntime as ort

        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        assert [i.name for i in session.get_inputs()] == list(inputs)
        return session.run(None, inputs)[0]
    module = torch.jit.load(str(path))
    with torch.no_grad():
        return module(*map(torch.from_numpy, inputs.values())).numpy()


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_pix2pix_generator_export_matches_pytorch(pix2pix_trained_run, exports, fmt):
    result = exports("pix2pix", fmt)
    assert result.inputs == [("input", "float32", (1, 16, 16))] and result.output_shape == (1, 16, 16)
    assert result.max_abs_diff < 1e-4
    G = load_translator(pix2pix_trained_run).G
    for batch in (1, 5):
        x = torch.rand(batch, 1, 16, 16, generator=torch.Generator().manual_seed(batch)) * 2 - 1
        with torch.no_grad():
            expected = G(x).numpy()
        got = _run_exported(result.path, {"input": x.numpy()})
        assert got.shape == expected.shape == (batch, 1, 16, 16)
        assert np.abs(got - expected).max() < 1e-4
        assert np.abs(expected).max() > 0  # a real output, not an all-zero network


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_conditional_generator_export_takes_labels_and_matches_pytorch(conditional_trained_run, exports, fmt):
    result = exports("conditional", fmt)
    assert result.inputs == [("z", "float32", (8,)), ("labels", "int64", ())]
    assert result.max_abs_diff < 1e-4
    loaded = load_generator(conditional_trained_run)
    for batch in (1, 5):
        z = latents(batch, 8, seed=200 + batch)
        outputs = []
        for label in (3, 7):
            labels = torch.full((batch,), label, dtype=torch.int64)
            with torch.no_grad():
                expected = loaded.G(z, labels).numpy()
            got = _run_exported(result.path, {"z": z.numpy(), "labels": labels.numpy()})
            assert got.shape == expected.shape == (batch, 1, 16, 16)
            assert np.abs(got - expected).max() < 1e-4
            outputs.append(got)
        assert np.abs(outputs[0] - outputs[1]).max() > 1e-3  # the file really uses the labels


def test_infogan_export_writes_its_categories_and_the_docs_example_draws_by_them(tiny_config, tmp_path):
    """An InfoGAN export writes NAME.categories.json (the checkpoint's category prior; an export without categories
    removes a stale one of the same name); the docs example draws categories by it: with all the weight on
    category 2, its grid is G's images of the same numpy latents with category 2 (to 1 grey level: rounding)."""
    import json
    from dataclasses import replace

    from PIL import Image

    from ganforge.inference.sampling import load_generator
    from ganforge.models.dcgan import with_category
    from ganforge.training.loop import train

    train(replace(tiny_config, latent_classes=4, total_steps=2), tmp_path / "run", quiet=True)
    result = export_generator(tmp_path / "run", tmp_path / "g.onnx")
    assert result.categories == tmp_path / "g.categories.json"
    prior = json.loads(result.categories.read_text())
    loaded = load_generator(tmp_path / "run")
    assert prior["latent_classes"] == 4 and prior["proportions"] == loaded.category_prior
    result.categories.write_text(json.dumps({**prior, "proportions": [0, 0, 1, 0]}))
    _run_example(EXAMPLE, str(result.path), str(tmp_path / "grid.png"), "--num", "4", "--seed", "3")
    train(tiny_config, tmp_path / "plain", quiet=True)  # no latent categories, exported to the same name:
    export_generator(tmp_path / "plain", tmp_path / "other.onnx")
    assert not (tmp_path / "other.categories.json").exists()
    result.categories.rename(tmp_path / "other.categories.json")  # a stale one from an earlier export goes
    export_generator(tmp_path / "plain", tmp_path / "other.onnx")
    assert not (tmp_path / "other.categories.json").exists()
    z = torch.from_numpy(np.random.default_rng(3).standard_normal((4, 8)).astype(np.float32))
    with torch.no_grad():
        images = loaded.G.eval()(with_category(z, torch.full((4,), 2), 4))
    pixels = ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)[:, 0].numpy()  # (4, 16, 16)
    expected = np.block([[pixels[0], pixels[1]], [pixels[2], pixels[3]]])  # the example's 2 x 2 grid
    got = np.asarray(Image.open(tmp_path / "grid.png"))
    assert got.shape == expected.shape and np.abs(got.astype(int) - expected).max() <= 1


@pytest.mark.parametrize("arch", [dict(d_arch="resnet", g_arch="resnet"), dict(model="mlp-gan"),
                                  dict(model="mlp-gan", conditional=True)], ids=["resnet", "mlp-gan", "cond-mlp-gan"])
def test_onnx_export_of_the_other_architectures_matches_pytorch(tiny_config, tmp_path, arch):
    """The residual G (--g-arch resnet) and the fully connected ones export with parity: onnxruntime gives G's
    images of the same inputs within 1e-4, for a batch size other than the traced one."""
    pytest.importorskip("onnxruntime")
    from dataclasses import replace

    from ganforge.training.loop import train

    train(replace(tiny_config, total_steps=2, ema_beta=0.9, **arch), tmp_path / "run", quiet=True)
    result = export_generator(tmp_path / "run", tmp_path / "g.onnx")
    assert result.format == "onnx" and result.max_abs_diff < 1e-4
    loaded = load_generator(tmp_path / "run")
    z = latents(3, loaded.latent_dim, seed=7)
    inputs = {"z": z.numpy()}
    with torch.no_grad():
        if arch.get("conditional"):
            labels = torch.tensor([0, 4, 9])
            inputs["labels"] = labels.numpy()
            expected = loaded.G(z, labels).numpy()
        else:
            expected = loaded.G(z).numpy()
    got = _run_exported(result.path, inputs)
    assert got.shape == expected.shape == (3, 1, 16, 16)
    assert np.abs(got - expected).max() < 1e-4


@pytest.fixture(scope="module")
def r3gan_trained_run(tmp_path_factory):
    from ganforge.config import TrainConfig
    from ganforge.training.loop import train

    config = TrainConfig(model="r3gan", data="digits", resolution=16, channels=1, latent_dim=8, g_width=4, d_width=4,
                         batch_size=8, total_steps=2, log_every=1, sample_every=2, checkpoint_every=2, sample_count=4,
                         precision="fp32", device="cpu", seed=0, ema_beta=0.9)
    return train(config, tmp_path_factory.mktemp("runs") / "r3gan", quiet=True).out_dir


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_r3gan_generator_export_matches_pytorch(r3gan_trained_run, tmp_path, fmt):
    """R3GAN's fixed low-pass resampling (grouped transposed convs) and grouped convs export too."""
    if fmt == "onnx":
        pytest.importorskip("onnxruntime")
    result = export_generator(r3gan_trained_run, tmp_path / ("g.onnx" if fmt == "onnx" else "g.pt"))
    assert result.max_abs_diff < 1e-4
    z, expected = _reference(r3gan_trained_run, 5)
    if fmt == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(str(result.path), providers=["CPUExecutionProvider"])
        got = session.run(None, {"z": z})[0]
    else:
        with torch.no_grad():
            got = torch.jit.load(str(result.path))(torch.from_numpy(z)).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-4)

