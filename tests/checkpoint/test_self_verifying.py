"""Files that check themselves: a checkpoint or export copied alone (no `.sha256` beside it) with one
flipped byte anywhere, or cut short, is refused with one line naming it; every command that loads one
exits with code 2."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest
import torch

from ganforge import cli, zip_integrity
from ganforge.checkpoint import FORMAT, hash_path, load_checkpoint, load_newest_intact, save_checkpoint
from ganforge.errors import GanforgeError
from ganforge.inference.export import export_generator, verify_export
from ganforge.serve.runs import open_runs

pytestmark = [pytest.mark.reliability,
              pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:DeprecationWarning")]

LOCAL_HEADER_TIME = 10  # a field of the first zip header that neither torch nor zipfile looks at


def damage(path: Path, how: str) -> None:
    """Flip one byte (in the zip header, the middle or the last byte) or cut the file in half."""
    data = bytearray(path.read_bytes())
    if how == "truncated":
        del data[len(data) // 2:]
    else:
        at = {"header": LOCAL_HEADER_TIME, "middle": len(data) // 2, "last byte": len(data) - 1}[how]
        data[at] ^= 0x01
    path.write_bytes(bytes(data))


DAMAGES = ["header", "middle", "last byte", "truncated"]


def lone_copy(source: Path, folder: Path) -> Path:
    """The file alone, the way people share a checkpoint: no .sha256 beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / source.name
    shutil.copyfile(source, copy)
    assert not hash_path(copy).exists()
    return copy


def _state() -> dict:
    generator = torch.Generator().manual_seed(0)
    return {"step": 7, "G": {"w": torch.randn(40, 40, generator=generator), "b": torch.randn(40, generator=generator)},
            "big": torch.randn(20_000, generator=generator)}  # over zip_integrity.SMALL: checked by sum64


def test_saved_checkpoints_carry_an_integrity_record(tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "latest.pt", _state())
    assert zip_integrity.is_sealed(str(path))
    assert zipfile.ZipFile(path).testzip() is None  # still an ordinary zip to every other tool
    state = load_checkpoint(lone_copy(path, tmp_path / "alone"))
    assert torch.equal(state["big"], _state()["big"]) and state["step"] == 7


@pytest.mark.parametrize("how", DAMAGES)
def test_a_lone_damaged_checkpoint_is_refused_in_one_line(tmp_path: Path, how: str) -> None:
    path = lone_copy(save_checkpoint(tmp_path / "latest.pt", _state()), tmp_path / "alone")
    damage(path, how)
    with pytest.raises(GanforgeError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert message.startswith(f"{path}: not a readable checkpoint") and "\n" not in message


def test_every_single_byte_flip_is_caught(tmp_path: Path, monkeypatch) -> None:
    """Every position of a small sealed file, so that both data checks (CRC-32 and sum64) are exercised."""
    monkeypatch.setattr(zip_integrity, "SMALL", 64)
    small = {"step": 7, "G": {"w": torch.randn(12, 12), "b": torch.randn(12)}}  # the weight goes through sum64
    path = lone_copy(save_checkpoint(tmp_path / "c.pt", small), tmp_path / "alone")
    original = path.read_bytes()
    missed = []
    for at in range(0, len(original), 2):  # every other byte, each with another bit: half the time, same finding
        data = bytearray(original)
        data[at] ^= 1 << (at % 8)
        path.write_bytes(bytes(data))
        try:
            load_checkpoint(path)
            missed.append(at)
        except GanforgeError:
            pass
    assert missed == []


def test_a_block_moved_inside_a_tensor_is_caught(tmp_path: Path) -> None:
    """Two 4 KiB blocks of tensor data swapped (a misdirected write): every byte is still a valid float."""
    path = lone_copy(save_checkpoint(tmp_path / "c.pt", _state()), tmp_path / "alone")
    with zipfile.ZipFile(path) as archive:
        info = max(archive.infolist(), key=lambda i: i.file_size)
    with open(path, "rb") as handle:
        start = next(m.start for m in zip_integrity.check_structure(handle)[0] if m.name == info.filename)
    data = bytearray(path.read_bytes())
    a, b = start + 4096, start + 3 * 4096
    data[a:a + 4096], data[b:b + 4096] = data[b:b + 4096], data[a:a + 4096]
    path.write_bytes(bytes(data))
    with pytest.raises(GanforgeError, match="tensor data does not match its integrity record"):
        load_checkpoint(path)


def test_checkpoints_from_before_the_record_still_load_and_are_crc_checked(tmp_path: Path) -> None:
    old = tmp_path / "old.pt"
    torch.save({"format": FORMAT, "version": 1, **_state()}, old)  # how checkpoints were written before
    assert not zip_integrity.is_sealed(str(old))
    assert load_checkpoint(old)["step"] == 7
    data = bytearray(old.read_bytes())
    data[len(data) // 2] ^= 0x01
    old.write_bytes(bytes(data))
    with pytest.raises(GanforgeError, match="fails its CRC-32 check"):
        load_checkpoint(old)


def test_resume_falls_back_past_a_lone_damaged_latest(tmp_path: Path) -> None:
    for step in (2, 4):
        save_checkpoint(tmp_path / f"step-{step:07d}.pt", {"step": step})
    save_checkpoint(tmp_path / "latest.pt", {"step": 4, "w": torch.ones(10)})
    for path in tmp_path.glob("*.sha256"):
        path.unlink()
    damage(tmp_path / "latest.pt", "middle")
    damage(tmp_path / "step-0000004.pt", "last byte")
    warnings: list[str] = []
    path, state = load_newest_intact(tmp_path, warnings.append)
    assert (path.name, state["step"]) == ("step-0000002.pt", 2)
    assert len(warnings) == 2 and all("\n" not in w for w in warnings)


def _one_line_error(capsys, path: Path) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err, err
    return err


@pytest.mark.parametrize("how", DAMAGES)
def test_commands_refuse_a_lone_damaged_checkpoint_with_exit_code_2(trained_run: Path, tmp_path: Path, how: str,
                                                                    capsys) -> None:
    path = lone_copy(trained_run / "checkpoints" / "latest.pt", tmp_path / "alone")
    damage(path, how)
    capsys.readouterr()
    assert cli.main(["sample", str(path), "-o", str(tmp_path / "grid.png")]) == 2
    _one_line_error(capsys, path)
    assert cli.main(["export", str(path), "-o", str(tmp_path / "g.pt")]) == 2
    _one_line_error(capsys, path)
    assert not (tmp_path / "g.pt").exists()


@pytest.mark.parametrize("how", DAMAGES)
def test_resume_and_serve_refuse_a_run_whose_only_checkpoint_is_damaged(trained_run: Path, tmp_path: Path, how: str,
                                                                        capsys) -> None:
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    for path in (run / "checkpoints").iterdir():
        if path.name != "latest.pt":
            path.unlink()  # the .sha256 files and the periodic checkpoints: nothing to fall back on
    latest = run / "checkpoints" / "latest.pt"
    damage(latest, how)
    served = open_runs([run])[run.name]
    with pytest.raises(GanforgeError) as info:
        served.generator()
    assert str(latest) in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(GanforgeError):
        served.discriminator()
    capsys.readouterr()
    assert cli.main(["train", "--resume", str(run), "--steps", "6"]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1].count("latest.pt") == 1 and "none of the 1 checkpoints is intact" in err


@pytest.fixture(scope="module", params=[".pt", ".onnx"])
def exported(request, trained_run: Path, tmp_path_factory) -> Path:
    """A TorchScript and an ONNX export; each was read back and checked by the export itself."""
    if request.param == ".onnx":
        pytest.importorskip("onnxruntime")
    return export_generator(trained_run, tmp_path_factory.mktemp("export") / f"g{request.param}").path


@pytest.mark.parametrize("how", DAMAGES)
def test_exports_carry_their_own_check(exported: Path, tmp_path: Path, how: str) -> None:
    verify_export(exported)
    path = lone_copy(exported, tmp_path)
    damage(path, how)
    with pytest.raises(GanforgeError) as info:
        verify_export(path)
    assert str(info.value).startswith(f"{path}: the exported file is damaged") and "\n" not in str(info.value)


def test_exported_files_still_load_in_other_tools(exported: Path) -> None:
    if exported.suffix == ".onnx":
        import onnxruntime as ort

        session = ort.InferenceSession(str(exported), providers=["CPUExecutionProvider"])
        assert len(session.get_modelmeta().custom_metadata_map["ganforge.sha256"]) == 64
    else:
        assert torch.jit.load(str(exported))(torch.zeros(2, 8)).shape == (2, 1, 16, 16)
