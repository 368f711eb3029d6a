"""Using a trained pix2pix generator on images of any size.

The U-Net halves the size log2(R) times, so inputs are padded (by reflection) to a multiple of its
stride, translated, and cropped back: the output always has the input's size. Files are read the way
training read them (same colour handling, same channel count).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.checkpoint import load_checkpoint
from ganforge.config.train_config import saved_settings
from ganforge.data.folder import IMAGE_EXTENSIONS, BadImage, decode_image, find_images
from ganforge.data.input_limits import TRANSLATE_PIXELS, check_input_image
from ganforge.errors import GanforgeError
from ganforge.images import from_uint8, save_png, to_uint8
from ganforge.inference.sampling import generator_from_state, mismatch


@dataclass
class LoadedTranslator:
    G: nn.Module
    in_channels: int
    out_channels: int
    stride: int  # height and width must be multiples of this
    step: int
    source: Path
    config: dict


def load_translator(path: str | os.PathLike, use_ema: bool = True, device: str = "cpu") -> LoadedTranslator:
    """The generator of a pix2pix run (directory or checkpoint file), in eval mode."""
    state = load_checkpoint(path)
    if state.get("recipe") != "pix2pix":
        raise GanforgeError(f"{path}: not a pix2pix run (its recipe is {state.get('recipe')!r}); translate needs a "
                            "run trained with --model pix2pix")
    loaded = generator_from_state(state, path, use_ema, device)
    args = state["model_args"]
    try:
        return LoadedTranslator(loaded.G, int(args["in_channels"]), int(args["out_channels"]), loaded.G.stride,
                                loaded.step, Path(path), saved_settings(state["config"]))
    except (KeyError, TypeError, ValueError, AttributeError, json.JSONDecodeError) as err:
        raise GanforgeError(f"{path}: checkpoint does not match its model ({mismatch(err)})") from None


def pad_to_multiple(images: torch.Tensor, stride: int) -> tuple[torch.Tensor, tuple[int, int, int, int]]:
    """(N, C, H, W) -> padded to multiples of stride, evenly on both sides; and the (left, right, top, bottom) pad."""
    h, w = images.shape[-2:]
    ph, pw = -h % stride, -w % stride
    pad = (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2)
    if not any(pad):
        return images, pad
    reflectable = max(pad[:2]) < w and max(pad[2:]) < h  # reflection needs a pad smaller than the side
    return F.pad(images, pad, mode="reflect" if reflectable else "replicate"), pad


@torch.no_grad()
def translate_images(G: nn.Module, images: torch.Tensor, stride: int) -> torch.Tensor:
    """(N, C_in, H, W) in [-1, 1], any H, W -> (N, C_out, H, W) in [-1, 1]."""
    h, w = images.shape[-2:]
    padded, (left, _, top, _) = pad_to_multiple(images, stride)
    device = next(G.parameters()).device
    out = G(padded.to(device)).float().cpu()
    return out[..., top : top + h, left : left + w]


def _inputs(paths: list[Path]) -> list[tuple[Path, Path]]:
    """(file, its output name relative to the output folder) for every image file or folder given."""
    found = []
    for path in paths:
        if path.is_dir():
            found += [(f, f.relative_to(path).with_suffix(".png")) for f in find_images(path)]
        elif path.is_file():
            found.append((path, Path(path.name).with_suffix(".png")))
        else:
            raise GanforgeError(f"{path}: no such file or folder")
    if not found:
        raise GanforgeError(f"no image files found in {', '.join(str(p) for p in paths)}")
    return found


def translate_files(run: str | os.PathLike, inputs: list[Path], out: Path, use_ema: bool = True,
                    device: str = "cpu") -> list[Path]:
    """Translate image files and folders; `out` is a .png file for one input image, else a folder.

    Unreadable files are skipped with a warning naming them; an error if none could be translated."""
    translator = load_translator(run, use_ema, device)
    files = _inputs(inputs)
    single = out.suffix.lower() in IMAGE_EXTENSIONS
    if single and (len(files) > 1 or out.suffix.lower() != ".png"):
        raise GanforgeError(f"-o {out}: give a folder for several inputs (outputs are PNG files)")
    written = []
    for path, name in files:
        try:
            check_input_image(path, TRANSLATE_PIXELS, ", e.g. 4096x4096, as each image is translated at its size")
            array = decode_image(path, None, translator.in_channels)  # (H, W, C) uint8, as in training
        except BadImage as err:
            if len(files) == 1:  # the one image asked for: its problem is the error
                raise GanforgeError(f"{path}: {err}") from None
            print(f"warning: skipping {path}: {err}", file=sys.stderr)
            continue
        image = from_uint8(torch.from_numpy(array.copy())[None])
        result = to_uint8(translate_images(translator.G, image, translator.stride))[0]
        target = out if single else out / name
        save_png(target, result)
        written.append(target)
    if not written:
        raise GanforgeError("none of the inputs could be read (see warnings above)")
    return written
