"""Using a trained translator (pix2pix, or either direction of a CycleGAN) on images of any size.

The U-Net halves the size log2(R) times (CycleGAN's ResNet generator twice), so inputs are padded (by
reflection) to a multiple of its stride, translated, and cropped back: the output always has the input's
size. Files are read the way training read them (same colour handling, same channel count). The network
learned features at the training images' scale: `scale="train"` shrinks (or enlarges) each input to the
training size first and scales the output back; at the input's own scale a warning says when it is far off.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from ganforge.checkpoint import load_checkpoint
from ganforge.config.train_config import saved_settings
from ganforge.data.folder import IMAGE_EXTENSIONS, BadImage, decode_image, find_images
from ganforge.data.input_limits import TRANSLATE_PIXELS, check_input_image
from ganforge.errors import GanforgeError
from ganforge.images import from_uint8, save_png, to_uint8
from ganforge.inference.sampling import generator_from_state, mismatch

TRANSLATORS = ("pix2pix", "unpaired")  # the recipes whose runs translate images
SCALES = ("native", "train")
FAR_SCALE = 2.0  # an input's shorter side this many times larger (or smaller) than the training size: warn


@dataclass
class LoadedTranslator:
    G: nn.Module
    in_channels: int
    out_channels: int
    stride: int  # height and width must be multiples of this
    step: int
    source: Path
    config: dict
    direction: str = "AtoB"
    both: nn.Module | None = None  # a CycleGAN's pair of generators (cycle error, the other direction)

    @property
    def resolution(self) -> int:
        """The shorter side of the training images."""
        return int(self.config["resolution"])


def load_translator(path: str | os.PathLike, use_ema: bool = True, device: str = "cpu",
                    direction: str | None = None) -> LoadedTranslator:
    """The generator of a pix2pix run, or one direction (AtoB by default) of a CycleGAN run, in eval mode."""
    state = load_checkpoint(path)
    recipe = state.get("recipe")
    if recipe not in TRANSLATORS:
        raise GanforgeError(f"{path}: not a translation run (its recipe is {recipe!r}); translate needs a run "
                            "trained with --model pix2pix or cyclegan")
    if recipe == "pix2pix" and direction not in (None, "AtoB"):
        raise GanforgeError(f"--direction {direction}: a pix2pix run translates one way only (the direction it "
                            "was trained in); train with --direction BtoA for the other")
    loaded = generator_from_state(state, path, use_ema, device)
    args = state["model_args"]
    try:
        channels = (int(args["in_channels"]), int(args["out_channels"]))
        if recipe == "pix2pix":
            return LoadedTranslator(loaded.G, *channels, loaded.G.stride, loaded.step, Path(path),
                                    saved_settings(state["config"]))
        direction = direction or "AtoB"
        G = loaded.G.direction(direction)
        c_in, c_out = channels if direction == "AtoB" else channels[::-1]
        return LoadedTranslator(G, c_in, c_out, loaded.G.stride, loaded.step, Path(path),
                                saved_settings(state["config"]), direction, loaded.G)
    except (KeyError, TypeError, ValueError, AttributeError, json.JSONDecodeError) as err:
        raise GanforgeError(f"{path}: checkpoint does not match its model ({mismatch(err)})") from None


def check_scale(scale: str) -> None:
    if scale not in SCALES:
        raise GanforgeError(f"--scale must be native or train, got {scale!r}")


def scale_note(name: str, hw: tuple[int, int], resolution: int) -> str | None:
    """One warning line when an image's shorter side is far from the training images' (None when it is close)."""
    ratio = min(hw) / resolution
    if 1 / FAR_SCALE <= ratio <= FAR_SCALE:
        return None
    return (f"warning: {name} is {hw[1]}x{hw[0]} px, {ratio:.1f}x the {resolution} px images the run learned from; "
            "it may not recognise what it learned at this scale (try --scale train)")


def resize_array(array: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """uint8 (H, W, C) -> (h, w, C), Lanczos."""
    if array.shape[:2] == tuple(hw):
        return array
    image = Image.fromarray(array[..., 0] if array.shape[2] == 1 else array)
    out = np.asarray(image.resize((hw[1], hw[0]), Image.Resampling.LANCZOS), dtype=np.uint8)
    return out.reshape(hw[0], hw[1], array.shape[2])


def translate_array(translator: LoadedTranslator, array: np.ndarray, scale: str = "native") -> np.ndarray:
    """uint8 (H, W, C_in) -> uint8 (H, W, C_out); "train": through the training size and back."""
    from ganforge.style.gatys import fit_long_side

    check_scale(scale)
    hw = array.shape[:2]
    if scale == "train":
        array = resize_array(array, fit_long_side(hw, translator.resolution))
    image = from_uint8(torch.from_numpy(np.array(array))[None])  # np.array: a writable copy
    result = to_uint8(translate_images(translator.G, image, translator.stride))[0]
    return resize_array(result, hw)


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
                    device: str = "cpu", direction: str | None = None, scale: str = "native") -> list[Path]:
    """Translate image files and folders; `out` is a .png file for one input image, else a folder.

    Unreadable files are skipped with a warning naming them; an error if none could be translated."""
    check_scale(scale)
    translator = load_translator(run, use_ema, device, direction)
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
        note = scale_note(str(path), array.shape[:2], translator.resolution) if scale == "native" else None
        if note:
            print(note, file=sys.stderr)
        result = translate_array(translator, array, scale)
        target = out if single else out / name
        save_png(target, result)
        written.append(target)
    if not written:
        raise GanforgeError("none of the inputs could be read (see warnings above)")
    return written
