"""Checkpoint integrity: hashes beside files, damaged files caught, hostile pickles refused, disk full."""

from __future__ import annotations

import errno
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from ganforge import checkpoint, cli
from ganforge.checkpoint import (
    file_sha256,
    hash_path,
    load_checkpoint,
    load_newest_intact,
    remove_stale_temp_files,
    save_checkpoint,
)
from ganforge.errors import GanforgeError
from ganforge.training.loop import train

pytestmark = pytest.mark.reliability


def _state(value: float = 1.0) -> dict:
    return {"step": 3, "weights": torch.full((64, 64), value)}


def test_save_writes_a_sha256sum_compatible_hash(tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "latest.pt", _state())
    line = hash_path(path).read_text()
    assert line == f"{file_sha256(path)}  latest.pt\n"
    # the same format `sha256sum -c` reads, checked by the real tool where it exists
    if os.path.exists("/usr/bin/sha256sum"):
        done = subprocess.run(["sha256sum", "-c", hash_path(path).name], cwd=tmp_path, capture_output=True)
        assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("damage", ["truncate", "flip one bit"])
def test_damaged_checkpoint_is_refused_with_a_clear_message(tmp_path: Path, damage: str) -> None:
    path = save_checkpoint(tmp_path / "latest.pt", _state())
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    else:
        data[len(data) // 2] ^= 0x10  # inside the tensor data, which torch.load alone would not notice
    path.write_bytes(bytes(data))
    with pytest.raises(GanforgeError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message and message.endswith("not loaded")


def test_the_sidecar_hash_still_guards_a_file_without_its_own_seal(tmp_path: Path) -> None:
    path = tmp_path / "old.pt"
    torch.save({"format": "ganforge-checkpoint", "version": 1, **_state()}, path)  # as older versions wrote them
    hash_path(path).write_text(f"{'0' * 64}  old.pt\n")
    with pytest.raises(GanforgeError, match="does not match old.pt.sha256"):
        load_checkpoint(path)


def test_bit_flip_in_tensor_data_is_caught_even_without_the_hash(tmp_path: Path) -> None:
    """torch.load alone accepts this damaged file and returns wrong numbers; the check inside the file does not."""
    path = save_checkpoint(tmp_path / "latest.pt", _state())
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x10
    path.write_bytes(bytes(data))
    loaded = torch.load(path, weights_only=True)
    assert not torch.equal(loaded["weights"], _state()["weights"])
    hash_path(path).unlink()
    with pytest.raises(GanforgeError, match="latest.pt: not a readable checkpoint: archive/data/0 fails"):
        load_checkpoint(path)


def test_newest_intact_checkpoint_is_chosen_and_each_damaged_one_reported(tmp_path: Path) -> None:
    for step in (2, 4, 6):
        save_checkpoint(tmp_path / f"step-{step:07d}.pt", {"step": step})
    save_checkpoint(tmp_path / "latest.pt", {"step": 6})
    for name in ("latest.pt", "step-0000006.pt"):
        (tmp_path / name).write_bytes((tmp_path / name).read_bytes()[:100])
    warnings: list[str] = []
    path, state = load_newest_intact(tmp_path, warnings.append)
    assert (path.name, state["step"]) == ("step-0000004.pt", 4)
    assert len(warnings) == 2 and "latest.pt" in warnings[0] and "step-0000006.pt" in warnings[1]


def test_resume_falls_back_to_the_newest_intact_checkpoint(tiny_config, tmp_path: Path, capsys) -> None:
    run = tmp_path / "run"
    train(tiny_config, run, quiet=True)  # 4 steps, checkpoints at 0, 2, 4 and latest (4)
    ckpts = run / "checkpoints"
    for name in ("latest.pt", "step-0000004.pt"):
        data = bytearray((ckpts / name).read_bytes())
        data[-100] ^= 0xFF
        (ckpts / name).write_bytes(bytes(data))
    capsys.readouterr()
    result = train(type(tiny_config)(total_steps=6), run, resume=True, quiet=True)
    err = capsys.readouterr().err
    assert "skipping damaged checkpoint" in err and "resuming from step 2 (checkpoints/step-0000002.pt)" in err
    assert result.step == 6
    assert load_checkpoint(ckpts / "latest.pt")["step"] == 6  # the damaged latest.pt was replaced


class Evil:
    """Unpickling this calls os.system("touch MARKER"): a checkpoint that would run code on load."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _write_evil(path: Path, marker: Path, container: str) -> None:
    payload = {"format": "ganforge-checkpoint", "version": 1, "step": 0, "hook": Evil(marker)}
    if container == "torch":
        torch.save(payload, path)
    else:
        path.write_bytes(pickle.dumps(payload, protocol=2))


@pytest.mark.parametrize("container", ["torch", "raw pickle"])
def test_crafted_pickle_is_refused_and_runs_nothing(tmp_path: Path, container: str, capsys) -> None:
    evil, marker = tmp_path / "evil.pt", tmp_path / "marker"
    _write_evil(evil, marker, container)
    with pytest.raises(GanforgeError) as info:
        load_checkpoint(evil)
    assert "refused to load: it would import" in str(info.value) and "system" in str(info.value)
    assert "\n" not in str(info.value)
    assert not marker.exists(), "loading the checkpoint ran code"
    assert cli.main(["sample", str(evil), "-o", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "refused to load" in err
    assert not marker.exists(), "the CLI ran the checkpoint's code"
    # the control: the file really is hostile, an ordinary unpickle runs its code
    if container == "torch":
        torch.load(evil, weights_only=False)
    else:
        pickle.loads(evil.read_bytes())
    assert marker.exists()


def test_disk_full_keeps_the_previous_checkpoint(tmp_path: Path, monkeypatch) -> None:
    path = save_checkpoint(tmp_path / "latest.pt", _state(1.0))
    before, before_hash = path.read_bytes(), hash_path(path).read_text()

    def full(fd: int) -> None:  # delayed allocation: many file systems report ENOSPC at fsync
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(checkpoint.os, "fsync", full)
    with pytest.raises(GanforgeError) as info:
        save_checkpoint(path, _state(2.0))
    assert "disk is full" in str(info.value) and str(path) in str(info.value)
    monkeypatch.undo()
    assert path.read_bytes() == before and hash_path(path).read_text() == before_hash
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest.pt", "latest.pt.sha256"]  # no temp files left
    assert torch.equal(load_checkpoint(path)["weights"], _state(1.0)["weights"])


FILE_SIZE_LIMIT = textwrap.dedent("""
    import resource, signal, sys, torch
    from ganforge.checkpoint import save_checkpoint
    from ganforge.errors import GanforgeError

    save_checkpoint(sys.argv[1], {"step": 1, "w": torch.zeros(1000)})
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # then writes past the limit fail with EFBIG, like a full disk
    resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))
    try:
        save_checkpoint(sys.argv[1], {"step": 2, "w": torch.zeros(100_000)})
    except GanforgeError as err:
        print(err)
""")


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")
def test_a_real_failed_write_keeps_the_previous_checkpoint(tmp_path: Path) -> None:
    """The operating system, not a mock, refuses the write half-way (file size limit)."""
    path = tmp_path / "latest.pt"
    done = subprocess.run([sys.executable, "-c", FILE_SIZE_LIMIT, str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "could not write checkpoint" in done.stdout and "unchanged" in done.stdout
    assert load_checkpoint(path)["step"] == 1
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_stale_temp_files_of_dead_writers_are_removed(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".latest.pt.{dead.pid}.tmp"
    live = tmp_path / f".latest.pt.{os.getpid()}.tmp"
    for path in (stale, live):
        path.write_bytes(b"half a checkpoint")
    assert remove_stale_temp_files(tmp_path) == [stale]
    assert live.exists() and not stale.exists()
