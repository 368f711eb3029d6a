"""Ship a trained generator to programs without ganforge: ONNX or TorchScript, checked at export time.

Every export is run once against the PyTorch module it came from, for several batch sizes (so the
dynamic batch dimension is checked too), and refused if any output differs by PARITY_TOLERANCE or
more. The file appears at its final path only after it passed, so a failed export leaves nothing.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ganforge.errors import GanforgeError

FORMATS = {"onnx": ".onnx", "torchscript": ".pt"}
PARITY_TOLERANCE = 1e-4
PARITY_BATCHES = (1, 5)
ONNX_EXTRA = "ONNX export needs onnx, onnxruntime and onnxscript: pip install 'ganforge[export]'"


@dataclass
class ExportResult:
    path: Path
    format: str
    max_abs_diff: float  # worst over PARITY_BATCHES
    batches: tuple[int, ...]
    input_name: str
    input_shape: tuple[int, ...]  # without the batch dimension
    output_shape: tuple[int, ...]


def format_for(out: Path, fmt: str | None) -> str:
    """The format asked for, or the one the file name implies; errors name the flag at fault."""
    if fmt is None:
        by_suffix = {suffix: name for name, suffix in FORMATS.items()}
        if out.suffix.lower() not in by_suffix:
            raise GanforgeError(f"-o {out}: cannot tell the format from the name; end it in .onnx or .pt, "
                                "or give --format onnx|torchscript")
        return by_suffix[out.suffix.lower()]
    if fmt not in FORMATS:
        raise GanforgeError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if out.suffix.lower() != FORMATS[fmt]:
        raise GanforgeError(f"-o {out}: --format {fmt} writes a {FORMATS[fmt]} file; name it so")
    return fmt


def export_generator(run: str | os.PathLike, out: str | os.PathLike, fmt: str | None = None,
                     use_ema: bool = True) -> ExportResult:
    """Export the generator of a run directory or checkpoint; input `z` (B, latent_dim) -> images (B, C, H, W)."""
    from ganforge.sampling import latents, load_generator

    loaded = load_generator(run, use_ema=use_ema)
    if loaded.conditional:
        raise GanforgeError(f"{run}: exporting a class-conditional generator (inputs z and a class) is not supported "
                            "yet; only noise-to-image runs can be exported")
    return export_module(loaded.G, latents(2, loaded.latent_dim, seed=0), out, fmt, "z", "images")


def export_module(module: nn.Module, example: torch.Tensor, out: str | os.PathLike, fmt: str | None = None,
                  input_name: str = "input", output_name: str = "output") -> ExportResult:
    """Export a one-input module (put in eval mode) with a dynamic batch dimension, then check parity."""
    out = Path(out)
    fmt = format_for(out, fmt)
    module = module.float().cpu().eval()
    example = example.float().cpu()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        if fmt == "onnx":
            _write_onnx(module, example, tmp, input_name, output_name)
            run_file = _onnx_runner(tmp, input_name)
        else:
            _write_torchscript(module, example, tmp)
            run_file = _torchscript_runner(tmp)
        worst, output_shape = _parity(module, run_file, example.shape[1:])
        if not worst < PARITY_TOLERANCE:
            raise GanforgeError(f"-o {out}: the exported {fmt} model differs from PyTorch by {worst:.2e} "
                                f"(limit {PARITY_TOLERANCE:.0e}); nothing was written")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return ExportResult(out, fmt, worst, PARITY_BATCHES, input_name, tuple(example.shape[1:]), output_shape)


def _parity(module: nn.Module, run_file: Callable[[np.ndarray], np.ndarray],
            input_shape: torch.Size) -> tuple[float, tuple[int, ...]]:
    """Max |exported - PyTorch| over PARITY_BATCHES, on inputs the export never saw."""
    generator = torch.Generator().manual_seed(1234)
    worst, shape = 0.0, ()
    for batch in PARITY_BATCHES:
        x = torch.randn(batch, *input_shape, generator=generator)
        with torch.no_grad():
            expected = module(x).float().numpy()
        got = run_file(x.numpy())
        if got.shape != expected.shape:
            raise GanforgeError(f"exported model returned shape {got.shape} for batch {batch}, "
                                f"PyTorch {expected.shape}")
        worst = max(worst, float(np.abs(got - expected).max()))
        shape = tuple(expected.shape[1:])
    return worst, shape


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """torch.onnx logs progress and warns about optional torchvision ops; none of it concerns the user."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _write_onnx(module: nn.Module, example: torch.Tensor, path: Path, input_name: str, output_name: str) -> None:
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError:
        raise GanforgeError(ONNX_EXTRA) from None
    batch = torch.export.Dim("batch")
    with _quiet_exporter():
        torch.onnx.export(module, (example,), str(path), input_names=[input_name], output_names=[output_name],
                          dynamic_shapes=({0: batch},), dynamo=True, external_data=False, verbose=False)


def _onnx_runner(path: Path, input_name: str) -> Callable[[np.ndarray], np.ndarray]:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return lambda x: session.run(None, {input_name: x})[0]


def _write_torchscript(module: nn.Module, example: torch.Tensor, path: Path) -> None:
    # TorchScript is deprecated upstream but still the format C++ (libtorch) and older tools load.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        traced = torch.jit.trace(module, (example,), check_trace=False)  # _parity checks, on fresh inputs
        torch.jit.save(traced, str(path))


def _torchscript_runner(path: Path) -> Callable[[np.ndarray], np.ndarray]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        loaded = torch.jit.load(str(path), map_location="cpu")

    def run(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return loaded(torch.from_numpy(x)).float().numpy()

    return run
