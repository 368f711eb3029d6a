"""TrainConfig: every setting of a training run, grouped by concern, saved in every run and checkpoint.

The fields stay flat (`cfg.lr_g`, `dataclasses.replace(cfg, lr_g=...)`, as the whole code base reads them)
and each carries its section and help line as field metadata: the saved config.json, `--help`'s flag
groups and the validation messages are all generated from these declarations.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from ganforge.config.sections import SECTIONS
from ganforge.errors import GanforgeError

DEFAULT_STEPS = 5000  # used when none of steps / epochs / max_minutes is given
DEFAULT_SAMPLE_EVERY, DEFAULT_CHECKPOINT_EVERY = 500, 1000


def setting(default: Any, section: str, help: str) -> Any:  # noqa: A002  (argparse's word for it)
    return dataclasses.field(default=default, metadata={"section": section, "help": help})


@dataclass
class TrainConfig:
    """Everything that defines a training run. CLI flags are these names in kebab-case.

    Build one with `ganforge.config.resolve_config(settings)`, which adds the preset, the model's own
    defaults and the data's natural size. A TrainConfig made by hand is read as a request for the
    fields it was given (`given()`); the others are filled the same way when it is trained.
    """

    # data
    data: str = setting("digits", "data", "a folder of images (searched recursively) or a built-in set: digits, "
                        "shapes, stacked-digits; 2D points: ring, grid or an (N, 2) .npy file; pix2pix: a folder "
                        "of pairs or a built-in task: edges2digits, masks2shapes, edges2photo, gray2color; cyclegan: "
                        "A_DIR:B_DIR, a folder with A/ and B/, or a built-in task (also thick-digits, circles2squares, "
                        "mirror-digits)")
    resolution: int | None = setting(None, "data", "image size in px, a power of two (default: the data's "
                                     "natural size: digits 32, shapes 32, stacked-digits 16, folders 64)")
    channels: int | None = setting(None, "data", "1 (grey), 3 (colour) or 4 (colour with "
                                  "transparency: RGBA folders, transparent PNG samples) (default: digits 1, everything "
                                  "else 3; transparency is composited onto white unless 4)")
    aspect: str = setting("1:1", "data", "WIDTH:HEIGHT of the images, e.g. 2:1; the shorter side is --resolution; "
                          "images are cropped to it, never squashed")
    flip: bool = setting(False, "data", "random horizontal flips of real images")
    # model
    model: str = setting("dcgan", "model", "the networks")
    conditional: bool = setting(False, "model", "class-conditional GAN: labels from class sub-folders or a "
                                "labelled built-in set")
    latent_dim: int = setting(100, "model", "size of G's latent vector z")
    g_width: int = setting(64, "model", "G's channel width (its widest layers are a multiple of it)")
    d_width: int = setting(64, "model", "D's channel width")
    d_batchnorm: bool = setting(True, "model", "batch norm in D (dcgan, each --d-arch, mlp-gan)")
    upsample: str = setting("transpose", "model", "dcgan G's upscaling: transpose (transposed convs), nearest "
                            "(nearest + 3x3 conv) or subpixel (3x3 conv to 4x the channels + pixel shuffle); "
                            "--g-arch resnet upscales by nearest neighbours")
    d_arch: str = setting("dcgan", "model", "dcgan D's backbone (also with --conditional): dcgan (4x4 stride-2 "
                          "convs), pool (3x3 conv + average pooling per level, then dense), resnet (SNGAN residual "
                          "blocks, sum pooling), vgg (two 3x3 convs + pooling per level, then dense) or inception "
                          "(1x1 / 3x3 / 5x5 / pool branches + stride-2 reduction, then dense)")
    g_arch: str = setting("dcgan", "model", "dcgan G's architecture (also with --conditional): dcgan (upscaling "
                          "convs, see --upsample) or resnet (SNGAN residual up blocks)")
    init_from: str | None = setting(None, "model", "fine-tuning: start G, D and the EMA of G from another run's "
                                    "weights (its folder or a checkpoint file; the networks' shapes must match); "
                                    "optimisers, step counters and schedules start fresh")
    # optimisation
    preset: str = setting("auto", "optimisation", "where unset values come from: auto (picked by the data and the "
                          "time budget: config/auto.py; recommended for 2D points and stacked-digits, plain for "
                          "digits), plain (textbook DCGAN) or recommended (measured)")
    loss: str = setting("nonsat", "optimisation", "adversarial loss; rahinge, rpgan (relativistic) for msg, "
                        "progressive, fastgan, r3gan")
    lr_g: float = setting(2e-4, "optimisation", "G's Adam learning rate")
    lr_d: float = setting(2e-4, "optimisation", "D's Adam learning rate")
    beta1: float = setting(0.5, "optimisation", "Adam beta1 of both players")
    beta2: float = setting(0.999, "optimisation", "Adam beta2 of both players")
    batch_size: int = setting(64, "optimisation", "images per step")
    ema_beta: float = setting(0.0, "optimisation", "keep an EMA copy of G for sampling (e.g. 0.999); 0 disables. "
                              "Until step ~3/(1-beta) the average spans about the last third of the run (warm-up)")
    lr_decay_start: float | None = setting(None, "optimisation", "from this fraction of the run (e.g. 0.5) both "
                                           "learning rates fall linearly towards 0 at the last step (with only "
                                           "--max-minutes: over the time budget)")
    # stabilisers
    balance: str = setting("fixed", "stabilisers", "G/D balance policy: fixed, ttur (D learns faster), skip (skip "
                           "D while its loss is low) or adaptive")
    d_steps: int = setting(1, "stabilisers", "D updates per G update (--balance fixed or ttur)")
    skip_d_below: float | None = setting(None, "stabilisers", "--balance skip: D's update is skipped while its "
                                         "loss is below this (default: per loss)")
    skip_g_above: float | None = setting(None, "stabilisers", "--balance skip: G's update is skipped while D's "
                                         "loss is above this (default: per loss)")
    balance_target: float = setting(0.3, "stabilisers", "--balance adaptive: the D(x) - D(G(z)) gap to steer "
                                    "towards")
    label_smoothing: float = setting(0.0, "stabilisers", "one-sided label smoothing: D aims for 1 - s on reals")
    instance_noise: float = setting(0.0, "stabilisers", "std of Gaussian noise added to D's inputs, annealed to 0")
    noise_anneal_steps: int = setting(2000, "stabilisers", "steps over which the instance noise falls to 0")
    spectral_norm: bool = setting(False, "stabilisers", "spectral normalisation on every D layer")
    minibatch_std: bool = setting(False, "stabilisers", "a minibatch standard-deviation feature before D's last "
                                  "layer")
    pack: int = setting(1, "stabilisers", "PacGAN: D judges this many samples at once")
    augment: str = setting("auto", "stabilisers", "augmentation of D's inputs: auto (ada below 5,000 images), off, "
                           "ada (adaptive) or fixed (DiffAugment with --augment-p)")
    augment_p: float = setting(0.0, "stabilisers", "fixed augmentation probability, or ada's starting one")
    ada_target: float = setting(0.6, "stabilisers", "ada: target for r_t = E[sign(D(real))]")
    r1_gamma: float = setting(0.0, "stabilisers", "R1 penalty weight on reals (0: off; for --model stylegan 0 "
                              "picks 0.0002 x resolution^2 / batch size)")
    r1_every: int = setting(16, "stabilisers", "lazy R1: every this many D updates")
    # schedule and outputs
    total_steps: int | None = setting(None, "schedule", "number of training steps (one D update + one G update "
                                      f"each; default {DEFAULT_STEPS:,} when no length is given)")
    epochs: float | None = setting(None, "schedule", "passes over the data (with --steps: whichever ends first)")
    max_minutes: float | None = setting(None, "schedule", "time budget; the run stops with a checkpoint when it "
                                        "is spent")
    log_every: int = setting(50, "schedule", "steps between log records (metrics.jsonl) and doctor checks")
    # None: the default spacing, or one planned from the speed when only --max-minutes is given (time_plan.py)
    sample_every: int | None = setting(None, "schedule", "steps between sample grids (samples/); default "
                                       f"{DEFAULT_SAMPLE_EVERY}, or ~10 over a --max-minutes budget")
    checkpoint_every: int | None = setting(None, "schedule", "steps between kept checkpoints "
                                           f"(checkpoints/step-*.pt); default {DEFAULT_CHECKPOINT_EVERY}, or ~4 "
                                           "over a --max-minutes budget")
    sample_count: int = setting(64, "schedule", "images in each sample grid")
    tensorboard: bool = setting(False, "schedule", "also write scalars, sample grids and weight histograms to "
                                "RUN/tensorboard (optional extra)")
    # execution
    seed: int = setting(0, "execution", "random seed: the same seed and settings give the same run")
    device: str = setting("auto", "execution", "auto, cpu, cuda, cuda:N or mps")
    precision: str = setting("auto", "execution", "fp32, bf16, fp16 (loss-scaled; for GPUs without bf16) or auto "
                             "(bf16 where the hardware has native kernels, fp16 on older CUDA GPUs, else fp32)")
    threads: int = setting(0, "execution", "CPU threads per process; 0 = the fastest count, found by timing the "
                                        "first steps and checked again now and then (docs/speed.md)")
    sync_bn: bool = setting(False, "execution", "with several processes (torchrun), batch-norm statistics over "
                            "the global batch")
    nan_retries: int = setting(3, "execution", "on NaN/inf, roll back to the last good checkpoint with halved "
                               "learning rates, at most this many times in a row")
    # evaluation during training
    eval_every: int = setting(0, "evaluation", "score G every N steps (FID, KID, ...) and keep "
                              "checkpoints/best.pt; 0 = never")
    eval_metric: str = setting("fid", "evaluation", "the score that picks best.pt")
    eval_samples: int = setting(2000, "evaluation", "generated samples per score")
    eval_extractor: str = setting("auto", "evaluation", "feature extractor: auto (digits for the built-in digits, "
                                  "inception-v3 otherwise), inception-v3, digits, random, or data: a cheap KID in "
                                  "the folder's own features (a small classifier trained at the start, held-out real "
                                  "images; KID on 500 samples by default) with advice on when to stop")
    eval_weights: str | None = setting(None, "evaluation", "a local FID Inception weights file")
    # pix2pix
    direction: str = setting("AtoB", "pix2pix", "which side of each pair is the input: AtoB or BtoA")
    l1_weight: float = setting(100.0, "pix2pix", "weight of L1(G(input), target) beside the cGAN loss (0: cGAN "
                               "only)")
    adversarial_weight: float = setting(1.0, "pix2pix", "weight of the cGAN loss (0: a plain L1-trained U-Net)")
    patch_size: int = setting(70, "pix2pix", "PatchGAN receptive field in px: 16, 34, 70, 142 or 286")
    dropout: float = setting(0.5, "pix2pix", "U-Net decoder dropout (G's noise source)")
    random_crop: bool = setting(False, "pix2pix", "random crops from pairs stored 1/8 larger, at the same place "
                                "on both sides")
    # CycleGAN
    cycle_weight: float = setting(10.0, "cyclegan", "weight of the cycle-consistency L1 (A -> B -> A and B -> A -> B)")
    identity_weight: float = setting(0.5, "cyclegan", "identity L1 (G_AtoB(b) = b) weighed as this times "
                                     "--cycle-weight (0: off; only where both domains have the same channels)")
    paired_weight: float = setting(10.0, "cyclegan", "weight of pix2pix's L1 on the images that have a partner (same "
                                   "name in A and B, or a pairs/ folder)")
    paired_fraction: float = setting(0.0, "cyclegan", "built-in tasks: the share of training images given with their "
                                     "partner (0: none, unpaired; 1: every one)")
    generator: str = setting("resnet", "cyclegan", "the two generators: resnet (the paper's residual-block network) "
                             "or unet (pix2pix's)")
    resnet_blocks: int | None = setting(None, "cyclegan", "residual blocks of the resnet generators (default: 9 at "
                                        "256 px, 6 below)")
    pool_size: int = setting(50, "cyclegan", "generated images D draws from, old and new (0: only this step's)")
    # progressive growing
    stage_images: int = setting(10_000, "progressive", "training images per stage at full weight")
    fade_images: int = setting(10_000, "progressive", "training images over which each new stage fades in")
    # InfoGAN
    latent_classes: int = setting(0, "infogan", "K categories in G's latent that D learns to tell apart from the "
                                  "image, so G gives each its own kind of image (e.g. 10 for digits; 0 = off)")
    info_weight: float = setting(1.0, "infogan", "weight of the category-recognition (mutual information) loss")
    # R3GAN
    gamma: float = setting(0.05, "r3gan", "weight of the zero-centred R1 (reals) and R2 (fakes) gradient penalties, "
                           "gamma/2 x E|grad D|^2 each, every D update; falls to gamma/10 over --decay-steps")
    decay_steps: int | None = setting(None, "r3gan", "steps over which, on a cosine, both learning rates fall to 1/4, "
                                      "gamma to 1/10 and Adam's beta2 rises from 0.9 to --beta2, then hold (default: "
                                      "the run's length when it starts; with only --max-minutes, its time budget); "
                                      "0 = constant")
    # StyleGAN
    mapping_layers: int = setting(2, "stylegan", "dense layers of the mapping network z -> w (1-8)")
    style_mixing: float = setting(0.9, "stylegan", "share of G's training batches whose later layers take the w "
                                  "of another z (style-mixing regularisation; 0 = off)")
    pl_weight: float = setting(0.0, "stylegan", "weight of the path-length regularisation of G, every 4th G "
                               "update (StyleGAN2 uses 2; 0 = off)")

    # --- the request: which fields were given --------------------------------------------------------
    def given(self) -> dict[str, Any]:
        """The fields this config was made with (all of them for a resolved or loaded config)."""
        return {name: getattr(self, name) for name in self._given}  # type: ignore[attr-defined]

    # --- validation ------------------------------------------------------------------------------------
    def validate(self) -> TrainConfig:
        """Raise GanforgeError naming the flag for any value that cannot work; returns self."""
        from ganforge.config.checks import check_config

        check_config(self)
        return self

    # --- saving and loading ------------------------------------------------------------------------------
    def sections(self) -> dict[str, dict[str, Any]]:
        """The settings by section, only the sections that apply to this run."""
        from ganforge.config.checks import applicable_sections

        shown = applicable_sections(self)
        out: dict[str, dict[str, Any]] = {name: {} for name in SECTIONS if name in shown}
        for f in fields(self):
            if f.metadata["section"] in out:
                out[f.metadata["section"]][f.name] = getattr(self, f.name)
        return out

    def to_dict(self) -> dict[str, Any]:
        """What config.json and checkpoints hold: the applicable sections."""
        return self.sections()

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, values: dict[str, Any], source: str = "config") -> TrainConfig:
        """A request from flat settings or a sectioned config (as saved); only the values present are given."""
        return cls(**flat_settings(values, source))

    @classmethod
    def load(cls, path: str | Path) -> TrainConfig:
        """A config file (flat or sectioned), as a request."""
        return cls.from_dict(read_json(path), str(path))

    @classmethod
    def from_saved(cls, saved: str | dict[str, Any], source: str = "checkpoint config") -> TrainConfig:
        """The config a run trained with, complete: every field given (absent sections did not apply)."""
        values = json.loads(saved) if isinstance(saved, str) else dict(saved)
        flat = flat_settings(values, source)
        if not is_sectioned(values):
            flat.setdefault("augment", "off")  # runs from before --augment had none
        defaults = {f.name: getattr(cls, f.name) for f in fields(cls)}
        return cls(**{**defaults, **flat})


def _remember_given(init: Any) -> Any:
    """Wrap the dataclass __init__ so a config knows which fields it was given (`given()`)."""
    names = [f.name for f in fields(TrainConfig)]

    @functools.wraps(init)
    def __init__(self: TrainConfig, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        self._given = frozenset(names[:len(args)]) | frozenset(kwargs)

    return __init__


TrainConfig.__init__ = _remember_given(TrainConfig.__init__)  # type: ignore[method-assign]
FIELDS = {f.name: f for f in fields(TrainConfig)}


def saved_settings(saved: str | dict[str, Any], source: str = "checkpoint config") -> dict[str, Any]:
    """{field: value} of a saved config (config.json or a checkpoint's), flat or in sections, complete."""
    return dataclasses.asdict(TrainConfig.from_saved(saved, source))


def defaults() -> dict[str, Any]:
    return {name: f.default for name, f in FIELDS.items()}


def is_sectioned(values: dict[str, Any]) -> bool:
    return any(isinstance(values.get(name), dict) for name in SECTIONS)


def flat_settings(values: dict[str, Any], source: str = "config") -> dict[str, Any]:
    """{field: value} from flat settings or from sections (config.json as saved); unknown names are errors."""
    if not isinstance(values, dict):
        raise GanforgeError(f"{source}: config must be a JSON object")
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if key in SECTIONS and isinstance(value, dict):
            misplaced = sorted(k for k in value if k in FIELDS and FIELDS[k].metadata["section"] != key)
            if misplaced:
                raise GanforgeError(f"{source}: {', '.join(misplaced)} belong(s) in another section than {key!r}")
            flat.update(value)
        else:
            flat[key] = value
    unknown = sorted(set(flat) - set(FIELDS))
    if unknown:
        import difflib

        hints = [f"{u} (did you mean {c[0]}?)" if (c := difflib.get_close_matches(u, FIELDS, n=1)) else u
                 for u in unknown]
        raise GanforgeError(f"{source}: unknown setting(s) {', '.join(hints)}")
    return flat


def read_json(path: str | Path) -> dict[str, Any]:
    try:
        values = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:  # ValueError: bad JSON, or bytes that are not UTF-8
        raise GanforgeError(f"{path}: cannot read config ({str(err).splitlines()[0][:160]})") from None
    except RecursionError:
        raise GanforgeError(f"{path}: cannot read config (nested too deeply)") from None
    if not isinstance(values, dict):
        raise GanforgeError(f"{path}: config must be a JSON object")
    return values


def planned_steps(config: TrainConfig, dataset_size: int) -> int | None:
    """The step limit from --steps / --epochs (the smaller); None when only a time budget is set."""
    limits = []
    if config.total_steps:
        limits.append(config.total_steps)
    if config.epochs:
        limits.append(max(1, math.ceil(config.epochs * dataset_size / config.batch_size)))
    if limits:
        return min(limits)
    return None if config.max_minutes else DEFAULT_STEPS
