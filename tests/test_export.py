"""Exported generators reproduce PyTorch within 1e-4, for batch sizes they were not traced with."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from ganforge.cli import main
from ganforge.errors import GanforgeError
from ganforge.export import ExportResult, export_generator, export_module
from ganforge.sampling import latents, load_generator

EXAMPLE = Path(__file__).parents[1] / "docs" / "examples" / "onnx_generate.py"
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:DeprecationWarning")


@pytest.fixture(scope="module")
def onnx_export(trained_run, tmp_path_factory) -> ExportResult:
    pytest.importorskip("onnxruntime")
    return export_generator(trained_run, tmp_path_factory.mktemp("export") / "g.onnx")


@pytest.fixture(scope="module")
def torchscript_export(trained_run, tmp_path_factory) -> ExportResult:
    return export_generator(trained_run, tmp_path_factory.mktemp("export") / "g.pt")


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
        export_module(Drifting(), torch.randn(2, 3), out)
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


def test_docs_example_runs_without_torch_or_ganforge(onnx_export, tmp_path):
    out = tmp_path / "grid.png"
    code = ("import runpy, sys; script = sys.argv[1]; sys.argv = sys.argv[1:] + ['--num', '5'];"
            "runpy.run_path(script, run_name='__main__');"
            "assert 'torch' not in sys.modules and 'ganforge' not in sys.modules, 'the example imported torch'")
    done = subprocess.run([sys.executable, "-c", code, str(EXAMPLE), str(onnx_export.path), str(out)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    from PIL import Image

    assert Image.open(out).size == (3 * 16, 2 * 16)  # 5 images on a 3-column grid
