"""Hostile and damaged inputs for the loaders of files ganforge did not write: `--data points.npy`, paired
image folders, `--config file.json` and checkpoints (wrong keys, shapes, types, models, versions; not a zip;
a pickle that would run code). Each target makes one case from a random generator and loads it the way the
CLI does; `run_case` says what happened.

A loader may accept a case or refuse it with a GanforgeError of one line; anything else (another exception,
a message of several lines, a crafted pickle's code running) is a failure, reported by raising AssertionError
or by letting the exception through. The long run is `python benchmarks/fuzz_loaders.py --cases 400`; tests
drive the same targets with small counts.
"""

from __future__ import annotations

import io
import json
import os
import random
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganforge.errors import GanforgeError
from ganforge.reliability.fuzz import mutate, seed_images

MARKER = "code-ran"  # a crafted pickle creates this file beside itself if its code runs


@dataclass
class Target:
    name: str
    make: Callable[[random.Random, Path], Path]  # writes one case into an empty folder; returns what to load
    load: Callable[[Path], Any]


def run_case(target: Target, rng: random.Random, folder: Path) -> str:
    """'accepted' or 'refused'; raises AssertionError (or the loader's stray exception) on a failure."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    path = target.make(rng, folder)
    try:
        target.load(path)
        outcome = "accepted"
    except GanforgeError as err:
        message = str(err)
        if not message.strip() or "\n" in message:
            raise AssertionError(f"{target.name}: refusal is not one line: {message!r}") from err
        outcome = "refused"
    if (folder / MARKER).exists():
        raise AssertionError(f"{target.name}: loading {path.name} ran code from it")
    return outcome


class RunsCode:
    """Unpickling this creates MARKER: the payload of a hostile file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _junk(rng: random.Random) -> Any:
    """A value of the wrong type or range, of the kinds hand edits and other programs produce."""
    return rng.choice([None, True, -1, 0, 1, 7, 2**40, 10**400 if rng.random() < 0.1 else 3.5, float("nan"),
                       float("inf"), -1e308, "", "16", "x" * 300, [], [1, 2], {}, {"a": {"b": 1}}])


# --- points.npy -------------------------------------------------------------------------------------

def _npy(array: np.ndarray, allow_pickle: bool = False) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def make_points(rng: random.Random, folder: Path) -> Path:
    path = folder / "points.npy"
    good = np.random.default_rng(rng.randrange(2**32)).normal(size=(rng.randint(1, 40), 2))
    kind = rng.randrange(4)
    if kind == 0:  # damaged bytes of a good file
        data = mutate(_npy(good.astype(rng.choice(["<f4", ">f8", "<i8"]))), rng)
    elif kind == 1:  # a well-formed array of the wrong shape, dtype or values
        array = rng.choice([good[:, :1], good.ravel(), good[None], good.astype(np.complex64), good > 0,
                            np.zeros((0, 2)), np.full((5, 2), np.nan), good.astype("U8"), np.asfortranarray(good),
                            np.zeros(3, dtype=[("x", "<f4"), ("y", "<f4")])])
        data = _npy(array)
    elif kind == 2:  # an object array: pickled inside the .npy, with code that would run on load
        data = _npy(np.array([RunsCode(folder / MARKER), 1], dtype=object), allow_pickle=True)
    else:  # a header that promises more or other data than the file holds
        header = {"descr": rng.choice(["<f4", "<f8", "|O", "<U3", "bogus"]), "fortran_order": rng.random() < 0.3,
                  "shape": rng.choice([(2**40, 2), (2**62, 2), (-1, 2), (3, 2), (), (10**6, 2)])}
        text = repr(header).encode()
        text += b" " * (-(len(text) + 11) % 64) + b"\n"
        data = b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text + os.urandom(rng.randint(0, 64))
    path.write_bytes(data)
    return path


def load_points_file(path: Path) -> Any:
    from ganforge.data.points import load_points

    return load_points(str(path))


# --- paired image folders ---------------------------------------------------------------------------

_IMAGES = None


def _image(rng: random.Random) -> tuple[str, bytes]:
    global _IMAGES
    _IMAGES = _IMAGES or seed_images()
    name = rng.choice(sorted(_IMAGES))
    data = _IMAGES[name]
    return name, mutate(data, rng) if rng.random() < 0.5 else data


def make_pair_folder(rng: random.Random, folder: Path) -> Path:
    root = folder / "pairs"
    layout = rng.choice(["two folders", "side by side", "splits"])
    base = root / "train" if layout == "splits" else root
    sides = [base / "A", base / "B"] if layout != "side by side" else [base]
    for side in sides:
        side.mkdir(parents=True, exist_ok=True)
    for i in range(rng.randint(0, 4)):
        for side in sides:
            if rng.random() < 0.15:
                continue  # a missing partner
            name, data = _image(rng)
            stem = f"{i}" if rng.random() < 0.8 else f"{i}-other"
            target = side / f"{stem}{Path(name).suffix}"
            if rng.random() < 0.05:
                target.mkdir()  # a folder named like an image
            else:
                target.write_bytes(data if rng.random() < 0.9 else b"")
    if layout == "splits" and rng.random() < 0.5:
        (root / "val").mkdir(parents=True)
        (root / "val" / "x.png").write_bytes(_image(rng)[1])
    return root


def load_pair_folder_quietly(root: Path) -> Any:
    from ganforge.data.paired import load_pair_folder, split_folder

    warnings: list[str] = []
    for split in ("train", "heldout"):
        where = split_folder(root, split)
        if where is not None:
            try:
                load_pair_folder(where, 16, 3, warn=warnings.append)
            finally:
                bad = [w for w in warnings if "\n" in w or not w.strip()]
                if bad:
                    raise AssertionError(f"a warning is not one line: {bad[0]!r}")


# --- config.json given with --config ----------------------------------------------------------------

def _good_config() -> dict[str, Any]:
    from ganforge.config import TrainConfig

    return json.loads(TrainConfig(data="digits", resolution=16, latent_dim=8, g_width=8, d_width=8).to_json())


def make_config(rng: random.Random, folder: Path) -> Path:
    path = folder / "config.json"
    values = _good_config()
    kind = rng.randrange(4)
    if kind == 0:
        path.write_bytes(mutate(json.dumps(values, indent=2).encode(), rng))
        return path
    if kind == 1:  # a value of the wrong type or range, in a section or flat
        section = rng.choice(sorted(values))
        if isinstance(values[section], dict) and values[section]:
            values[section][rng.choice(sorted(values[section]))] = _junk(rng)
        else:
            values[section] = _junk(rng)
    elif kind == 2:  # keys added, dropped, renamed; the whole thing of another type
        values = rng.choice([values | {"no_such_setting": 1}, {k: v for k, v in values.items() if rng.random() < 0.5},
                             [values], "config", 3, None, {"": {}}, {k.upper(): v for k, v in values.items()}])
    else:  # text JSON parsers trip on
        text = rng.choice(["[" * 100_000 + "]" * 100_000, '{"a": ' * 50_000 + "1" + "}" * 50_000, "\ufeff{}",
                           '{"train": {"steps": 1e999}}', '{"a": 1, "a": 2}', "", "\x00"])
        path.write_bytes(text.encode("utf-8") if rng.random() < 0.8 else b"\xff\xfe{\x00}\x00\x80\x81")
        return path
    path.write_text(json.dumps(values, allow_nan=True))
    return path


def load_config_file(path: Path) -> Any:
    """What `ganforge train --config FILE` does before the data is read."""
    from ganforge.config.resolver import resolve_config
    from ganforge.config.train_config import read_json

    return resolve_config({}, read_json(path), images=100)


# --- checkpoints ------------------------------------------------------------------------------------

def _good_checkpoint() -> dict[str, Any]:
    from ganforge.checkpoint import FORMAT, VERSION
    from ganforge.config import TrainConfig
    from ganforge.models import create_model
    from ganforge.recipes.gan import model_args

    config = TrainConfig(data="digits", resolution=16, channels=1, latent_dim=8, g_width=8, d_width=8)
    args = model_args(config)
    torch.manual_seed(0)
    G, D = create_model("dcgan", **args)
    return {"format": FORMAT, "version": VERSION, "recipe": "gan", "model": "dcgan", "model_args": args,
            "config": config.to_json(), "step": 4, "G": G.state_dict(), "D": D.state_dict(), "G_ema": None}


def _other_models() -> list[str]:
    from ganforge.models import model_names

    return model_names()


def _wrong_state(rng: random.Random, state: dict[str, Any]) -> Any:
    """A sealed, readable checkpoint whose content is wrong: keys, shapes, dtypes, models, versions, types."""
    kind = rng.randrange(8)
    net = rng.choice(["G", "D", "G_ema"])
    weights = dict(state["G"])
    key = rng.choice(sorted(weights))
    if kind == 0:
        state.pop(rng.choice(sorted(state)))
    elif kind == 1:
        state[rng.choice(sorted(state))] = _junk(rng)
    elif kind == 2:  # a tensor of another shape or dtype, a key dropped or added
        tensor = weights[key].reshape(-1, 1) if weights[key].dim() == 0 else weights[key]
        weights[key] = rng.choice([tensor.flatten(), tensor[..., :1], torch.zeros(3, 3), tensor.to(torch.float16),
                                   tensor.to(torch.int64), tensor.bool(), tensor.to(torch.complex64),
                                   torch.tensor(1.0)])
        if rng.random() < 0.3:
            weights.pop(key)
        if rng.random() < 0.3:
            weights["extra.weight"] = torch.ones(2)
        state[net] = weights
    elif kind == 3:  # a state dict of random tensors
        state[net] = {f"layer{i}.weight": torch.randn(rng.randint(1, 5), rng.randint(1, 5)) for i in range(4)}
    elif kind == 4:  # another model's name (its checkpoint has other keys), or no such model
        state["model"] = rng.choice([*_other_models(), "no-such-model", ""])
    elif kind == 5:  # model arguments out of range or of the wrong type
        args = dict(state["model_args"])
        args[rng.choice(sorted(args))] = rng.choice([None, -1, 0, 3, "16", 2**40, 1.5, [], "up"])
        if rng.random() < 0.2:
            args["no_such_argument"] = 1
        state["model_args"] = args
    elif kind == 6:  # another version or format, a broken step or config
        state[rng.choice(["version", "format", "step", "recipe", "config", "class_names"])] = rng.choice(
            [2, 99, -1, "1", None, "x", 1e300, ["a"], {"train": 1}, "{not json"])
    else:  # not a dict at all
        return rng.choice([[state["G"]], torch.zeros(2), "ganforge-checkpoint", 1, None, (1, 2)])
    return state


def make_checkpoint(rng: random.Random, folder: Path) -> Path:
    from ganforge.checkpoint import save_checkpoint

    path = folder / "latest.pt"
    kind = rng.randrange(5)
    if kind == 0:  # damaged bytes of a good checkpoint
        save_checkpoint(path, _good_checkpoint())
        path.write_bytes(mutate(path.read_bytes(), rng))
        path.with_name(path.name + ".sha256").unlink()  # alone: only the checks inside the file apply
    elif kind in (1, 2):  # readable and intact, but wrong inside
        payload = _wrong_state(rng, _good_checkpoint())
        with open(path, "wb") as handle:  # written like save_checkpoint, without the dict it insists on
            from ganforge.zip_integrity import seal

            torch.save(payload, handle)
        with open(path, "r+b") as handle:
            seal(handle)
    elif kind == 3:  # a pickle that would run code, in a torch zip, a bare pickle, or another zip member name
        payload = {**_good_checkpoint(), "hook": RunsCode(folder / MARKER)}
        if rng.random() < 0.5:
            torch.save(payload, path)
        else:
            import pickle

            path.write_bytes(pickle.dumps(payload, protocol=rng.choice([2, 4])))
    else:  # not a checkpoint: random bytes, text, an empty file, a zip of something else
        choice = rng.randrange(4)
        if choice == 0:
            path.write_bytes(os.urandom(rng.randint(0, 2000)))
        elif choice == 1:
            path.write_bytes(rng.choice([b"", b"{}", b"PK\x03\x04", b"PK\x05\x06" + bytes(18), b"\x80\x02}q\x00."]))
        else:
            with zipfile.ZipFile(path, "w") as archive:
                archive.writestr(rng.choice(["data.pkl", "archive/data.pkl", "archive/version", "x"]),
                                 os.urandom(rng.randint(0, 200)) if choice == 2 else b"\x80\x02}q\x00.")
    return path


def load_checkpoint_for_sampling(path: Path) -> Any:
    """The loaders `ganforge sample`, `export` and `serve` share: checkpoint -> generator, and serve's D."""
    from ganforge.inference.sampling import load_generator
    from ganforge.serve.runs import _load_discriminator

    load_generator(path)
    return _load_discriminator(path)


TARGETS = {
    "points.npy": Target("points.npy", make_points, load_points_file),
    "paired folder": Target("paired folder", make_pair_folder, load_pair_folder_quietly),
    "config.json": Target("config.json", make_config, load_config_file),
    "checkpoint": Target("checkpoint", make_checkpoint, load_checkpoint_for_sampling),
}
