"""`ganforge project`'s files: the run's G and D and the photo read as training reads images, the results written."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ganforge.errors import GanforgeError
from ganforge.inference.projection import Projection, project


def load_target(path: Path, resolution: int, channels: int, aspect: str) -> torch.Tensor:
    """The photo as (1, C, H, W) in [-1, 1] at the run's size, centre-cropped to its aspect."""
    from ganforge.aspect import image_size
    from ganforge.data.folder import BadImage, decode_image
    from ganforge.data.input_limits import check_input_image
    from ganforge.images import from_uint8

    try:
        check_input_image(path)
        array = decode_image(path, image_size(resolution, aspect), channels)
    except (BadImage, OSError) as err:
        raise GanforgeError(f"{path}: {err.strerror if isinstance(err, OSError) else err}") from None
    return from_uint8(torch.from_numpy(array.copy())[None]).float()


def load_networks(run: str | os.PathLike, use_ema: bool) -> tuple[nn.Module, nn.Module | None, dict]:
    """(G, D or None, model_args) of a noise-to-image run; D from the same checkpoint, for the perceptual term."""
    from ganforge.checkpoint import load_checkpoint
    from ganforge.inference.sampling import check_dtypes, generator_from_state, mismatch
    from ganforge.models import create_model

    state = load_checkpoint(run)
    if state.get("recipe") == "pix2pix":
        raise GanforgeError(f"{run}: a pix2pix run turns images into images; it has no latent to project into")
    loaded = generator_from_state(state, run, use_ema)
    if loaded.conditional or loaded.latent_classes:
        raise GanforgeError(f"{run}: projection is for unconditional noise-to-image runs (this one has classes or "
                            "latent categories)")
    D = None
    if state.get("D") is not None:
        try:
            _, D = create_model(state["model"], **state["model_args"])
            D.load_state_dict(check_dtypes(D, state["D"]))
        except (KeyError, RuntimeError, TypeError, ValueError, AttributeError) as err:
            raise GanforgeError(f"{run}: checkpoint's D does not match its model ({mismatch(err)})") from None
    return loaded.G.float().cpu(), D, dict(state["model_args"])


def project_file(run: str | os.PathLike, image: Path, out: Path, steps: int, space: str = "w", seed: int = 0,
                 use_ema: bool = True) -> tuple[Projection, list[Path]]:
    """Project `image` into the run's latent space; write reconstruction.png, latent.npy and projection.gif."""
    from ganforge.images import grid, save_gif, save_png

    G, D, args = load_networks(run, use_ema)
    target = load_target(Path(image), int(args["resolution"]), int(args["channels"]), str(args.get("aspect", "1:1")))
    result = project(G, target, steps, D, space, seed)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "reconstruction.png", out / "latent.npy", out / "projection.gif"]
    save_png(paths[0], grid(result.image, nrow=1))
    np.save(paths[1], result.latent, allow_pickle=False)
    save_gif(result.frames, paths[2], fps=10)
    return result, paths
