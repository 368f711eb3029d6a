"""Ship a trained generator to programs without ganforge: ONNX or TorchScript, checked at export time.

Every export is run once against the PyTorch module it came from, for several batch sizes (so the
dynamic batch dimension is checked too), and refused if any output differs by PARITY_TOLERANCE or
more. The file appears at its final path only after it passed, so a failed export leaves nothing.

Each file carries its own integrity check, verified when it is read back for that comparison: a
TorchScript file is a zip sealed like a checkpoint (zip_integrity.py); an ONNX file ends in one more
`metadata_props` entry, `ganforge.sha256`, holding the sha256 of every byte before it (protobuf merges
a field appended to a message, so ONNX tools just see one more metadata entry).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ganforge.aspect import image_size
from ganforge.errors import GanforgeError
from ganforge.zip_integrity import DamagedFile, load_verified, seal, verify

FORMATS = {"onnx": ".onnx", "torchscript": ".pt"}
PARITY_TOLERANCE = 1e-4
PARITY_BATCHES = (1, 5)
ONNX_EXTRA = "ONNX export needs onnx, onnxruntime and onnxscript: pip install 'ganforge[export]'"


# One batch of inputs for a generator: (batch size, random generator) -> its positional arguments
InputSampler = Callable[[int, torch.Generator], tuple[torch.Tensor, ...]]


@dataclass
class ExportResult:
    path: Path
    format: str
    max_abs_diff: float  # worst over PARITY_BATCHES
    batches: tuple[int, ...]
    inputs: list[tuple[str, str, tuple[int, ...]]]  # (name, dtype, shape without the batch dimension)
    output_shape: tuple[int, ...]
    categories: Path | None = None  # InfoGAN: the JSON of the data's category proportions written beside the file

    def describe(self) -> str:
        """`z float32 (batch, 8), labels int64 (batch,)`: what a program feeding the file must pass."""
        return ", ".join(f"{name} {dtype} (batch,{''.join(f' {d},' for d in shape).rstrip(',')})"
                         for name, dtype, shape in self.inputs)


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
                     use_ema: bool = True, direction: str | None = None) -> ExportResult:
    """Export the generator of a run directory or checkpoint, whichever kind it is:

    noise-to-image: `z` (B, latent_dim) -> images (B, C, H, W); class-conditional: `z` and `labels` (B,)
    int64 class indices -> images; pix2pix: `input` (B, C_in, R, R) in [-1, 1] -> images (B, C_out, R, R);
    cyclegan: the same for one `direction` (AtoB or BtoA; default AtoB).
    """
    from ganforge.checkpoint import load_checkpoint
    from ganforge.inference.sampling import generator_from_state

    state = load_checkpoint(run)
    if direction is not None or state.get("recipe") == "unpaired":
        from ganforge.inference.translate import load_translator

        translator = load_translator(run, use_ema, direction=direction)
        shape = (translator.in_channels, *image_size(translator.resolution, translator.config["aspect"]))
        return export_module(translator.G, lambda n, g: (torch.rand(n, *shape, generator=g) * 2 - 1,), out, fmt,
                             ("input",), "images")
    loaded = generator_from_state(state, run, use_ema)
    if state.get("recipe") == "pix2pix":
        args = state["model_args"]
        shape = (int(args["in_channels"]), int(args["resolution"]), int(args["resolution"]))
        result = export_module(loaded.G, lambda n, g: (torch.rand(n, *shape, generator=g) * 2 - 1,), out, fmt,
                               ("input",), "images")
    elif loaded.conditional:
        classes = len(loaded.class_names)
        result = export_module(loaded.G, lambda n, g: (torch.randn(n, loaded.latent_dim, generator=g),
                                                       torch.randint(0, classes, (n,), generator=g)),
                               out, fmt, ("z", "labels"), "images")
    else:
        result = export_module(loaded.G, lambda n, g: (torch.randn(n, loaded.latent_dim, generator=g),), out, fmt,
                               ("z",), "images")
    sidecar = result.path.with_name(f"{result.path.stem}.categories.json")
    if loaded.latent_classes and loaded.category_prior and not loaded.conditional:
        result.categories = write_category_prior(sidecar, loaded.latent_classes, loaded.category_prior)
    else:  # the file it described was just replaced by one without latent categories
        sidecar.unlink(missing_ok=True)
    return result


def write_category_prior(path: Path, classes: int, prior: list[float]) -> Path:
    """`NAME.categories.json` beside an exported InfoGAN: a program feeding z ~ N(0, I) gets the categories
    uniformly (their argmax), as in training; drawing them in these proportions is what `ganforge sample` does."""
    text = json.dumps({"latent_classes": classes, "proportions": prior,
                       "use": f"draw category k with these probabilities, then set z[:, k] above the other "
                              f"entries of z[:, :{classes}] (their argmax is the category)"}, indent=1)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text + "\n")
    os.replace(tmp, path)
    return path


def export_module(module: nn.Module, draw_inputs: InputSampler, out: str | os.PathLike, fmt: str | None = None,
                  input_names: tuple[str, ...] = ("input",), output_name: str = "output") -> ExportResult:
    """Export a module (put in eval mode) with a dynamic batch dimension on every input, then check parity.

    `draw_inputs(batch, generator)` gives valid arguments: traced at batch 2, checked on fresh ones."""
    out = Path(out)
    fmt = format_for(out, fmt)
    module = module.float().cpu().eval()
    example = draw_inputs(2, torch.Generator().manual_seed(0))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        if fmt == "onnx":
            _write_onnx(module, example, tmp, input_names, output_name)
            run_file = _onnx_runner(tmp, input_names)
        else:
            _write_torchscript(module, example, tmp)
            run_file = _torchscript_runner(tmp)
        worst, output_shape = _parity(module, run_file, draw_inputs)
        if not worst < PARITY_TOLERANCE:
            raise GanforgeError(f"-o {out}: the exported {fmt} model differs from PyTorch by {worst:.2e} "
                                f"(limit {PARITY_TOLERANCE:.0e}); nothing was written")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    inputs = [(name, str(x.dtype).removeprefix("torch."), tuple(x.shape[1:])) for name, x in zip(input_names, example)]
    return ExportResult(out, fmt, worst, PARITY_BATCHES, inputs, output_shape)


def _parity(module: nn.Module, run_file: Callable[[list[np.ndarray]], np.ndarray],
            draw_inputs: InputSampler) -> tuple[float, tuple[int, ...]]:
    """Max |exported - PyTorch| over PARITY_BATCHES, on inputs the export never saw."""
    generator = torch.Generator().manual_seed(1234)
    worst, shape = 0.0, ()
    for batch in PARITY_BATCHES:
        inputs = draw_inputs(batch, generator)
        with torch.no_grad():
            expected = module(*inputs).float().numpy()
        got = run_file([x.numpy() for x in inputs])
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


def _write_onnx(module: nn.Module, example: tuple[torch.Tensor, ...], path: Path, input_names: tuple[str, ...],
                output_name: str) -> None:
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError:
        raise GanforgeError(ONNX_EXTRA) from None
    batch = torch.export.Dim("batch")
    with _quiet_exporter():
        torch.onnx.export(module, example, str(path), input_names=list(input_names), output_names=[output_name],
                          dynamic_shapes=tuple({0: batch} for _ in example), dynamo=True, external_data=False,
                          verbose=False)
    seal_onnx(path)


ONNX_KEY = b"ganforge.sha256"
# ModelProto field 14 (metadata_props), length 83: {1: key (15 bytes), 2: sha256 as 64 hex digits}
ONNX_SEAL_HEAD = bytes([14 << 3 | 2, 83, 1 << 3 | 2, len(ONNX_KEY)]) + ONNX_KEY + bytes([2 << 3 | 2, 64])
ONNX_SEAL_SIZE = len(ONNX_SEAL_HEAD) + 64


def seal_onnx(path: Path) -> None:
    """Append the `ganforge.sha256` metadata entry: the sha256 of the file as it was."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    with open(path, "ab") as handle:
        handle.write(ONNX_SEAL_HEAD + digest.encode())


def check_onnx(path: Path) -> None:
    """Raise DamagedFile unless the file ends in its `ganforge.sha256` entry and matches it."""
    data = path.read_bytes()
    head, digest = data[-ONNX_SEAL_SIZE:-64], data[-64:]
    if len(data) <= ONNX_SEAL_SIZE or head != ONNX_SEAL_HEAD:
        raise DamagedFile("its ganforge.sha256 entry is missing or damaged")
    if hashlib.sha256(data[:-ONNX_SEAL_SIZE]).hexdigest().encode() != digest:
        raise DamagedFile("its content does not match its ganforge.sha256 entry")


def _onnx_runner(path: Path, input_names: tuple[str, ...]) -> Callable[[list[np.ndarray]], np.ndarray]:
    import onnxruntime as ort

    _checked(path, check_onnx)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return lambda xs: session.run(None, dict(zip(input_names, xs)))[0]


def _write_torchscript(module: nn.Module, example: tuple[torch.Tensor, ...], path: Path) -> None:
    # TorchScript is deprecated upstream but still the format C++ (libtorch) and older tools load.
    # The tracer warns where a layer branches on a shape (e.g. a 1x1 latent taking the linear form); the traced
    # branch is the one every input of this model takes, and _parity checks the file at other batch sizes.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        traced = torch.jit.trace(module, example, check_trace=False)  # _parity checks, on fresh inputs
        torch.jit.save(traced, str(path))
    with open(path, "r+b") as handle:
        seal(handle)


def verify_export(path: str | os.PathLike) -> None:
    """Check an exported .onnx or TorchScript .pt against the integrity record inside it."""
    path = Path(path)
    _checked(path, check_onnx if path.suffix.lower() == ".onnx" else lambda p: verify(str(p)))


def _checked(path: Path, check: Callable[[Path], Any]) -> Any:
    """check(path), with damage reported as one line naming the file."""
    try:
        return check(path)
    except DamagedFile as err:
        raise GanforgeError(f"{path}: the exported file is damaged: {err}; not loaded") from None


def _torchscript_runner(path: Path) -> Callable[[list[np.ndarray]], np.ndarray]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        loaded = _checked(path, lambda p: load_verified(str(p), lambda f: torch.jit.load(f, map_location="cpu")))

    def run(xs: list[np.ndarray]) -> np.ndarray:
        with torch.no_grad():
            return loaded(*map(torch.from_numpy, xs)).float().numpy()

    return run
