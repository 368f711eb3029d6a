"""Files ganforge did not write (points.npy, paired folders, --config JSON, checkpoints of the wrong shape, model,
version or type, hostile pickles): each is loaded or refused with one line, never a traceback, never code run.

The long run is `python benchmarks/fuzz_loaders.py --cases 400`; this is a bounded form of it, plus the cases it
found, kept as regressions.
"""

from __future__ import annotations

import json
import pickle
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from ganforge.checkpoint import save_checkpoint
from ganforge.errors import GanforgeError
from ganforge.reliability import loader_fuzz
from ganforge.reliability.loader_fuzz import MARKER, TARGETS, RunsCode, run_case

pytestmark = pytest.mark.reliability

CASES = {"points.npy": 60, "paired folder": 40, "config.json": 60, "checkpoint": 40}


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_bounded_fuzz_of_each_loader(name: str, tmp_path: Path) -> None:
    rng = random.Random(f"test-{name}")
    outcomes = [run_case(TARGETS[name], rng, tmp_path / "case") for _ in range(CASES[name])]
    assert set(outcomes) <= {"accepted", "refused"}
    assert "refused" in outcomes  # the generators do make bad files


def _refused(load, path: Path) -> str:
    with pytest.raises(GanforgeError) as info:
        load(path)
    message = str(info.value)
    assert "\n" not in message and len(message) < 400, message
    return message


@pytest.mark.parametrize("text", [b"\xff\xfe{\x00}\x00", b"[" * 100_000 + b"]" * 100_000,
                                  b'{"train": {"steps": ' + b"9" * 400 + b"}}", b'{"data": 3}', b'{"model": []}'])
def test_config_files_that_broke_the_reader_are_refused(tmp_path: Path, text: bytes) -> None:
    path = tmp_path / "config.json"
    path.write_bytes(text)
    _refused(loader_fuzz.load_config_file, path)


def _npy_header(shape: tuple, descr: str = "<f8") -> bytes:
    header = repr({"descr": descr, "fortran_order": False, "shape": shape}).encode()
    header += b" " * (-(len(header) + 11) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header


@pytest.mark.parametrize("content", [_npy_header((2**40, 2)) + bytes(64), _npy_header((2**62, 2)),
                                     _npy_header((3, 2))[:-20] + b"(\n", b"\x93NUMPY\x01\x00"])
def test_points_files_that_promise_too_much_are_refused_without_allocating(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "points.npy"
    path.write_bytes(content)
    assert "not a readable .npy array" in _refused(loader_fuzz.load_points_file, path)


def test_points_beyond_float32_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "points.npy"
    np.save(path, np.array([[0.0, 1e300], [1.0, 2.0]]))
    assert "too large" in _refused(loader_fuzz.load_points_file, path)


def test_a_points_file_with_a_pickle_inside_runs_nothing(tmp_path: Path) -> None:
    path = tmp_path / "points.npy"
    np.save(path, np.array([RunsCode(tmp_path / MARKER), 1], dtype=object), allow_pickle=True)
    _refused(loader_fuzz.load_points_file, path)
    assert not (tmp_path / MARKER).exists()


def _wrong(tmp_path: Path, **changes) -> Path:
    state = loader_fuzz._good_checkpoint() | changes
    return save_checkpoint(tmp_path / "latest.pt", state)


@pytest.mark.parametrize("changes", [
    {"version": "1"}, {"version": None}, {"step": [1]}, {"step": "x"}, {"model": "no-such-model"},
    {"model_args": {"resolution": "16"}}, {"model_args": None}, {"class_names": 5},
])
def test_checkpoints_with_wrong_content_are_refused(tmp_path: Path, changes: dict) -> None:
    _refused(loader_fuzz.load_checkpoint_for_sampling, _wrong(tmp_path, **changes))


def test_weights_of_another_type_are_refused_not_cast(tmp_path: Path) -> None:
    state = loader_fuzz._good_checkpoint()
    key = next(k for k, v in state["G"].items() if v.is_floating_point())
    G = dict(state["G"])
    G[key] = G[key].to(torch.complex64)
    message = _refused(loader_fuzz.load_checkpoint_for_sampling, _wrong(tmp_path, G=G))
    assert key in message and "complex64" in message


def test_another_models_checkpoint_is_refused(tmp_path: Path) -> None:
    others = [m for m in loader_fuzz._other_models() if m not in ("dcgan",)]
    for model in others:
        _refused(loader_fuzz.load_checkpoint_for_sampling, _wrong(tmp_path, model=model))


def test_a_bare_pickle_that_runs_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "latest.pt"
    path.write_bytes(pickle.dumps({"format": "ganforge-checkpoint", "x": RunsCode(tmp_path / MARKER)}))
    _refused(loader_fuzz.load_checkpoint_for_sampling, path)
    assert not (tmp_path / MARKER).exists()


def test_the_generated_config_is_valid_before_it_is_damaged(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(loader_fuzz._good_config()))
    assert loader_fuzz.load_config_file(path).resolution == 16
