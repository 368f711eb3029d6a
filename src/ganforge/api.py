"""ganforge from Python: train, load, sample, interpolate, translate, stylize, evaluate and save images.

Each `ganforge` command parses its flags and calls one of these, so a request gives the same result from
either. Images are float tensors in [-1, 1], (N, C, H, W). Heavy imports wait until a function runs, so
`import ganforge` stays quick.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ganforge.errors import GanforgeError

if TYPE_CHECKING:
    import numpy as np
    import torch
    from PIL import Image

    from ganforge.config import TrainConfig
    from ganforge.training.loop import TrainResult

PathLike = str | os.PathLike
STYLE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}


def _stderr(line: str) -> None:
    print(line, file=sys.stderr)


def train(data: str | None = None, out: PathLike | None = None, *, resume: bool = False, quiet: bool = False,
          config: PathLike | Mapping[str, Any] | None = None, **settings: Any) -> TrainResult:
    """Train a GAN; returns where it stopped (`.out_dir`, `.checkpoint`, `.step`, `.status`).

    settings: TrainConfig fields (`model`, `preset`, `total_steps`, `lr_g`, ...); `config`: a config.json
    (or its dict) under them. resume=True continues the run in `out` exactly; a new length (`total_steps`,
    `epochs`, `max_minutes`) replaces the saved ones, and runtime settings (config.resolver.RUNTIME_FIELDS:
    `device`, `threads`, `log_every`, ...) may change. A run resumed at its end returns status "complete"
    with a `.message` saying how to extend it. Unset values come from the preset, the model and the data
    (ganforge.config.resolve_config); the small-data model choice is announced on stderr unless quiet.
    """
    from ganforge.config import TrainConfig, resolve_config
    from ganforge.config.resolver import check_resume_request
    from ganforge.config.train_config import read_json

    if out is None:
        raise GanforgeError("--out DIR is required: the folder where this run's files go")
    if resume:
        check_resume_request({**settings, **({"data": data} if data is not None else {}),
                              **({"config": config} if config is not None else {})})
        return _run_training(TrainConfig(**settings), Path(out), True, quiet)
    if data is not None:
        settings["data"] = data
    if isinstance(config, TrainConfig):
        base: Mapping[str, Any] | None = config.given()
    elif isinstance(config, Mapping) or config is None:
        base = config
    else:
        base = read_json(config)
    resolved = resolve_config(settings, base, notify=None if quiet else _stderr)
    return _run_training(resolved, Path(out), False, quiet)


def _run_training(config: TrainConfig, out: Path, resume: bool, quiet: bool) -> TrainResult:
    from ganforge.data.points import is_point_data
    from ganforge.runtime import torch_threads
    from ganforge.training import distributed
    from ganforge.training.loop import train as train_loop

    try:
        with torch_threads(1 if is_point_data(config.data) else None):  # 2D MLPs: one thread is faster
            return train_loop(config, out, resume=resume, quiet=quiet)
    finally:
        distributed.stop()  # under torchrun: leave the process group before the interpreter exits


class Model:
    """A trained generator from a run folder or checkpoint (ganforge.load): the EMA copy when there is one."""

    def __init__(self, path: PathLike, use_ema: bool = True, device: str = "cpu") -> None:
        from ganforge.checkpoint import load_checkpoint
        from ganforge.config import TrainConfig
        from ganforge.inference.sampling import generator_from_state
        from ganforge.runtime import resolve_device

        self.source = Path(path)
        state = load_checkpoint(path)
        self.recipe = str(state.get("recipe", "gan"))
        self.step = int(state["step"])
        self.config = TrainConfig.from_saved(state["config"]) if "config" in state else None
        self._loaded = generator_from_state(state, path, use_ema, str(resolve_device(device)))
        self.G = self._loaded.G
        self.model_args = dict(state["model_args"])
        self.class_names = self._loaded.class_names

    @property
    def is_translator(self) -> bool:
        return self.recipe in ("pix2pix", "unpaired")

    def _noise_generator(self, what: str) -> None:
        if self.is_translator:
            raise GanforgeError(f"{self.source}: a {self.recipe} run turns images into images and has no noise to "
                                f"{what}; use: ganforge translate RUN INPUT... -o OUT (in Python: .translate)")

    def sample(self, n: int, seed: int = 0, truncation: float = 1.0,
               labels: str | int | Sequence[str | int] | None = None) -> torch.Tensor:
        """n images (n, C, H, W) in [-1, 1]; 2D point runs give (n, 2) points. The same seed gives the same images.

        labels: for a class-conditional run, a class (name or index) for all n or one per sample (default: every
        class in turn); for an InfoGAN run, latent categories by number (default: drawn in the data's
        proportions)."""
        from ganforge.config.ranges import SAMPLE_COUNT, SEED, TRUNCATION, check_number
        from ganforge.inference.sampling import sample_images

        self._noise_generator("sample from")
        check_number("n", n, SAMPLE_COUNT)
        check_number("seed", seed, SEED)
        check_number("truncation", truncation, TRUNCATION)
        if labels is None:
            return sample_images(self._loaded, n, seed, None, truncation)[0]
        per_sample = [labels] * n if isinstance(labels, (str, int)) else list(labels)
        if len(per_sample) != n:
            raise GanforgeError(f"labels: give one class for all {n} samples or one per sample, got {len(per_sample)}")
        return self._sample_labelled(n, seed, truncation, [str(c) for c in per_sample])

    def _sample_labelled(self, n: int, seed: int, truncation: float, per_sample: list[str]) -> torch.Tensor:
        import torch

        from ganforge.inference.sampling import class_index, generate, latents, truncate
        from ganforge.models.dcgan import with_category

        loaded = self._loaded
        z = truncate(latents(n, loaded.latent_dim, seed), truncation)
        if loaded.conditional:
            labels = torch.tensor([class_index(c, loaded.class_names) for c in per_sample])
            return generate(loaded.G, z, labels=labels)
        if not loaded.latent_classes:
            raise GanforgeError(f"--class: {self.source} is not a class-conditional model (nor an InfoGAN)")
        categories = torch.tensor([loaded.category_index(c) for c in per_sample])
        return generate(loaded.G, with_category(z, categories, loaded.latent_classes))

    def interpolate(self, walks: int = 8, points: int = 4, frames: int = 16, seed: int = 0,
                    out: PathLike | None = None, fps: int = 12, truncation: float = 1.0,
                    latents: PathLike | None = None) -> list[np.ndarray]:
        """Frames of `walks` latent walks side by side through `points` random points, `frames` per leg, as
        uint8 (H, W, C) grids; `out` (a .gif) also writes them as an animation. A style-based run walks in w
        space; `truncation` pulls the points toward the mean latent; `latents` (a .npy from `ganforge project`):
        one walk through those, then random points up to `points`."""
        from ganforge.config.ranges import TRUNCATION, check_interpolation, check_number
        from ganforge.images import save_gif
        from ganforge.inference.sampling import interpolation_frames
        from ganforge.inference.styles import load_latents

        self._noise_generator("interpolate")
        check_interpolation(walks, points, frames, fps, seed)
        check_number("truncation", truncation, TRUNCATION)
        given = None
        if latents is not None:
            given = load_latents(latents, self.G, self._loaded.latent_dim)
            check_interpolation(1, max(points, len(given)), frames, fps, seed)
        if self._loaded.G.__class__.__name__ == "MLPGenerator":
            raise GanforgeError(f"{self.source}: a 2D point run has no images to interpolate; its evolution.gif "
                                "shows the generated points moving during training")
        if out is not None and Path(out).suffix.lower() != ".gif":
            raise GanforgeError(f"-o {out}: interpolation writes an animated .gif")
        shown = interpolation_frames(self._loaded, walks, points, frames, seed, truncation, given)
        if out is not None:
            save_gif(shown, out, fps)
        return shown

    def translate(self, image: torch.Tensor | PathLike, direction: str = "AtoB") -> torch.Tensor:
        """A pix2pix run's output for an image ((C, H, W) or (N, C, H, W) in [-1, 1], or an image file), at the
        input's own size, in [-1, 1]; a cyclegan run's in `direction` (AtoB or BtoA)."""
        import torch

        from ganforge.data.folder import BadImage, decode_image
        from ganforge.data.input_limits import TRANSLATE_PIXELS, check_input_image
        from ganforge.images import from_uint8
        from ganforge.inference.translate import translate_images

        if not self.is_translator:
            raise GanforgeError(f"{self.source}: not a pix2pix or cyclegan run (its recipe is {self.recipe!r}); "
                                "translate needs a run trained with model='pix2pix' or 'cyclegan' (use .sample for "
                                "noise-to-image runs)")
        G, in_channels = self.G, int(self.model_args["in_channels"])
        if self.recipe == "unpaired":
            G = self.G.direction(direction)
            in_channels = in_channels if direction == "AtoB" else int(self.model_args["out_channels"])
        elif direction != "AtoB":
            raise GanforgeError(f"direction={direction!r}: a pix2pix run translates one way only")
        if not torch.is_tensor(image):
            path = Path(image)
            try:  # (H, W, C) uint8, read as in training
                check_input_image(path, TRANSLATE_PIXELS, ", as the image is translated at its size")
                array = decode_image(path, None, in_channels)
            except (BadImage, OSError) as err:
                raise GanforgeError(f"{path}: {err.strerror if isinstance(err, OSError) else err}") from None
            image = from_uint8(torch.from_numpy(array.copy())[None])
        batch = image if image.ndim == 4 else image[None]
        result = translate_images(G, batch.float(), self.G.stride)
        return result if image.ndim == 4 else result[0]


def load(run_or_checkpoint: PathLike, *, use_ema: bool = True, device: str = "cpu") -> Model:
    """A trained run (its folder: the newest intact checkpoint) or a checkpoint file, ready to sample."""
    return Model(run_or_checkpoint, use_ema, device)


def save_grid(images: torch.Tensor, path: PathLike, nrow: int | None = None) -> Path:
    """Images in [-1, 1] (N, C, H, W) as one PNG grid, `nrow` per row (default: about square); returns the path.
    .npy writes a uint8 (N, H, W, C) array and another name a folder of PNGs (as `ganforge sample -o`)."""
    from ganforge.inference.sampling import write_samples

    return write_samples(images, path, nrow=nrow)


def stylize(content: Any, style: Any, out: PathLike | None = None, *, quiet: bool = True,
            **options: Any) -> torch.Tensor:
    """`content` painted in the style of `style` (a path, PIL image or uint8 array; or a list of them to blend)
    as a (1, 3, H, W) tensor in [-1, 1]. options: ganforge.style.StyleConfig fields (size, steps,
    style_strength, ...); `out` also writes the image (.png, .jpg, .webp), atomically."""
    from ganforge.images import from_uint8
    from ganforge.style import StyleConfig
    from ganforge.style import stylize as paint

    styles = list(style) if isinstance(style, (list, tuple)) else [style]
    if out is not None:
        _check_style_output(Path(out), [content, *styles])
    config = StyleConfig(**options).validate(len(styles))
    save_dir = Path(out).parent / f"{Path(out).stem}-steps" if out is not None and config.save_every else None
    picture = paint(content, styles, config, progress=not quiet, save_dir=save_dir)
    if out is not None:
        _save_picture(picture, Path(out))
    import numpy as np
    import torch

    return from_uint8(torch.from_numpy(np.asarray(picture.convert("RGB")).copy())[None])


def _check_style_output(out: Path, inputs: list[Any]) -> None:
    """Fail before any compute: a writable image name that is not one of the inputs."""
    if out.suffix.lower() not in STYLE_FORMATS:
        raise GanforgeError(f"-o {out}: use one of {', '.join(STYLE_FORMATS)}")
    if out.is_dir():
        raise GanforgeError(f"-o {out}: is a folder; give an image file name")
    for path in inputs:
        if isinstance(path, (str, os.PathLike)) and out.exists() and Path(path).exists() \
                and os.path.samefile(out, path):
            raise GanforgeError(f"-o {out}: is one of the input images; refusing to overwrite it")


def _save_picture(picture: Image.Image, out: Path) -> None:
    """Write atomically (temp file, rename): an interrupted run never leaves half an image."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    picture.save(tmp, format=STYLE_FORMATS[out.suffix.lower()])
    os.replace(tmp, out)


def evaluate(run_or_checkpoint: PathLike, metrics: Sequence[str] | str = ("fid", "kid"), samples: int = 10_000,
             **options: Any) -> dict[str, Any]:
    """Score a run's generator against its data: {"step": ..., "kid": ..., "kid_std": ..., ...} for the newest
    checkpoint. Also appended to the run's metrics.jsonl and its eval.md table. metrics: fid, kid, pr
    (precision/recall/density/coverage), is, memorisation. options: those of metrics.evaluate.evaluate_checkpoints
    (extractor, seed, n_real, data, device, precision, use_ema, cache, quiet)."""
    from ganforge.metrics.evaluate import evaluate_checkpoints
    from ganforge.metrics.scores import scores_of

    options.setdefault("quiet", True)
    record = evaluate_checkpoints(run_or_checkpoint, [metrics] if isinstance(metrics, str) else list(metrics),
                                  samples, **options)[-1]
    return {"step": record["step"], **scores_of(record)}
