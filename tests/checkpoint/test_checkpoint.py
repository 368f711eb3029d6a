"""Checkpoints: atomic writes, and no code ever runs when loading one."""

import pickle

import pytest
import torch

from ganforge.checkpoint import load_checkpoint, save_checkpoint
from ganforge.errors import GanforgeError


def test_round_trip_and_no_temp_files_left(tmp_path):
    path = save_checkpoint(tmp_path / "c.pt", {"step": 3, "w": torch.ones(2)})
    state = load_checkpoint(path)
    assert state["step"] == 3 and torch.equal(state["w"], torch.ones(2))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.pt", "c.pt.sha256"]


def test_failed_write_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "c.pt", {"step": 1})

    def broken_save(obj, handle):
        handle.write(b"partial")
        raise OSError("No space left on device")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(GanforgeError, match="could not write checkpoint .*No space left on device"):
        save_checkpoint(path, {"step": 2})
    monkeypatch.undo()
    assert load_checkpoint(path)["step"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.pt", "c.pt.sha256"]


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_a_pickle_that_runs_code_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"format": "ganforge-checkpoint", "payload": _Exploit(marker)}, path)
    with pytest.raises(GanforgeError, match="refused to load: it would import"):
        load_checkpoint(path)
    assert not marker.exists()
    raw = tmp_path / "raw.pt"
    raw.write_bytes(pickle.dumps(_Exploit(marker)))
    with pytest.raises(GanforgeError):
        load_checkpoint(raw)
    assert not marker.exists()


@pytest.mark.parametrize("content", [b"", b"not a checkpoint", b"PK\x03\x04garbage"])
def test_garbage_files_get_one_line_errors(tmp_path, content):
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    with pytest.raises(GanforgeError, match="bad.pt: not a readable checkpoint"):
        load_checkpoint(path)


def test_other_torch_files_are_not_ganforge_checkpoints(tmp_path):
    torch.save({"state_dict": {"w": torch.ones(1)}}, tmp_path / "other.pt")
    with pytest.raises(GanforgeError, match="not a ganforge checkpoint"):
        load_checkpoint(tmp_path / "other.pt")


def test_run_directory_without_checkpoint(tmp_path):
    with pytest.raises(GanforgeError, match="no checkpoint found"):
        load_checkpoint(tmp_path)
