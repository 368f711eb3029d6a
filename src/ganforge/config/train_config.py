"""Typed training configuration: validated once, saved as JSON in every run and checkpoint."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from ganforge.errors import GanforgeError

DEFAULT_STEPS = 5000  # used when none of steps / epochs / max_minutes is given
FLAG_NAMES = {"total_steps": "--steps"}  # fields whose CLI flag is not simply their kebab-case name


def flag_name(field: str) -> str:
    """The CLI flag of a TrainConfig field: `batch_size` -> `--batch-size`."""
    return FLAG_NAMES.get(field, "--" + field.replace("_", "-"))


@dataclass
class TrainConfig:
    """Everything that defines a training run. CLI flags are these names in kebab-case."""

    data: str = "digits"
    resolution: int | None = None  # None: the data set's natural size (digits 32, shapes 32, folders 64)
    channels: int | None = None  # None: digits 1, everything else 3
    flip: bool = False  # random horizontal flips of real images
    # networks
    model: str = "dcgan"
    latent_dim: int = 100
    g_width: int = 64
    d_width: int = 64
    d_batchnorm: bool = True
    upsample: str = "transpose"
    # objective and optimisers
    loss: str = "nonsat"
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    batch_size: int = 64
    ema_beta: float = 0.0  # 0 disables the EMA copy of G; 0.999 is a good value when enabled
    lr_decay_start: float | None = None  # from this fraction of the run, both rates fall linearly towards 0
    # length
    total_steps: int | None = None
    epochs: float | None = None
    max_minutes: float | None = None
    # execution
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"  # fp32 | bf16 | fp16 | auto (bf16 where native, fp16 on older CUDA GPUs, else fp32)
    threads: int = 0  # CPU threads per process; 0: PyTorch's default (docs/speed.md)
    sync_bn: bool = False  # several processes (torchrun): batch-norm statistics over the global batch
    # outputs
    log_every: int = 50
    sample_every: int = 500
    checkpoint_every: int = 1000
    sample_count: int = 64
    tensorboard: bool = False  # also write TensorBoard events to RUN/tensorboard (optional extra)
    # reliability
    nan_retries: int = 3  # NaN/inf -> roll back to the last good checkpoint with halved learning rates, this often
    # class-conditional GAN and pix2pix
    conditional: bool = False  # class-conditional G + projection D; labels from sub-folders or a built-in set
    direction: str = "AtoB"  # pix2pix: AtoB turns each pair's A side into its B side; BtoA the reverse
    l1_weight: float = 100.0  # pix2pix: weight of L1(G(input), target) beside the cGAN loss; 0: cGAN only
    adversarial_weight: float = 1.0  # pix2pix: weight of the cGAN loss; 0: a plain L1-trained U-Net
    patch_size: int = 70  # pix2pix: PatchGAN receptive field in pixels: 16, 34, 70, 142 or 286
    dropout: float = 0.5  # pix2pix: U-Net decoder dropout (G's noise source)
    random_crop: bool = False  # pix2pix: store pairs 1/8 larger, crop both sides at the same random place
    # evaluation during training: score G every eval_every steps (0 = never) and keep checkpoints/best.pt
    eval_every: int = 0
    eval_metric: str = "fid"  # the score that picks best.pt: fid, kid, precision, recall, density, coverage, is
    eval_samples: int = 2000
    eval_extractor: str = "auto"  # digits for the built-in digits, inception-v3 otherwise
    eval_weights: str | None = None  # a local FID Inception weights file
    # recipe preset, G/D balance and stabilisers (docs/stabilising.md)
    preset: str = "plain"  # what the unset values came from: plain (DCGAN defaults) or recommended
    balance: str = "fixed"  # fixed | ttur | skip | adaptive
    d_steps: int = 1  # D updates per G update (fixed / ttur)
    skip_d_below: float | None = None  # skip: D's update is skipped while its loss is below this
    skip_g_above: float | None = None  # skip: G's update is skipped while D's loss is above this
    balance_target: float = 0.3  # adaptive: the D(x) - D(G(z)) gap to steer towards
    label_smoothing: float = 0.0  # one-sided: D aims for 1 - s on reals
    instance_noise: float = 0.0  # std of Gaussian noise added to D's inputs, annealed to 0
    noise_anneal_steps: int = 2000
    spectral_norm: bool = False  # on every D layer
    minibatch_std: bool = False  # a minibatch standard-deviation feature before D's last layer
    pack: int = 1  # PacGAN: D judges this many samples at once
    augment: str = "auto"  # auto (ada below 5,000 images) | off | ada | fixed (DiffAugment with --augment-p)
    augment_p: float = 0.0  # fixed augmentation probability, or ada's starting one
    ada_target: float = 0.6  # ada: target for r_t = E[sign(D(real))]
    r1_gamma: float = 0.0  # R1 penalty weight on reals (0: off)
    r1_every: int = 16  # lazy R1: every this many D updates
    latent_classes: int = 0  # InfoGAN: this many categories in G's latent, which D learns to recognise (0: off)
    info_weight: float = 1.0  # InfoGAN: weight of the category-recognition (mutual information) loss
    # high resolution (docs/high-resolution.md): image shape and the progressive growing schedule
    aspect: str = "1:1"  # WIDTH:HEIGHT; the shorter side is --resolution (dcgan, msg, progressive, fastgan)
    stage_images: int = 10_000  # progressive: training images per stage at full weight
    fade_images: int = 10_000  # progressive: training images over which a new stage fades in

    def validate(self) -> TrainConfig:
        """Raise GanforgeError naming the flag for any value that cannot work."""
        from ganforge.config.ranges import TRAIN_RANGES, check_number

        for f in fields(self):  # a JSON config can hold anything: text and yes/no settings get checked too
            value = getattr(self, f.name)
            if f.type == "str" and not isinstance(value, str):
                raise GanforgeError(f"{flag_name(f.name)} must be text, got {value!r}")
            if f.type == "bool" and not isinstance(value, bool):
                raise GanforgeError(f"{flag_name(f.name)} must be true or false, got {value!r}")
        optional = {f.name for f in fields(self) if f.default is None}
        for name, allowed in TRAIN_RANGES.items():
            value = getattr(self, name)
            if not (value is None and name in optional):
                check_number(flag_name(name), value, allowed)
        if self.resolution is not None:
            from ganforge.data.dataset import check_resolution

            check_resolution(self.resolution)
        if self.channels not in (None, 1, 3):
            raise GanforgeError(f"--channels must be 1 or 3, got {self.channels}")
        if self.device not in ("auto", "cpu", "cuda", "mps") and not self.device.startswith("cuda:"):
            raise GanforgeError(f"--device must be auto, cpu, cuda or mps, got {self.device!r}")
        if self.precision not in ("auto", "fp32", "bf16", "fp16"):
            raise GanforgeError(f"--precision must be auto, fp32, bf16 or fp16, got {self.precision!r}")
        from ganforge.models.dcgan import UPSAMPLE_MODES

        if self.upsample not in UPSAMPLE_MODES:
            raise GanforgeError(f"--upsample must be one of {', '.join(UPSAMPLE_MODES)}, got {self.upsample!r}")
        self._validate_pix2pix()
        self._validate_eval()
        self._validate_latent_classes()
        from ganforge.config.highres import check_highres
        from ganforge.losses.adversarial import LOSSES
        from ganforge.losses.relativistic import RELATIVISTIC_LOSSES
        from ganforge.models import model_names

        if self.loss not in RELATIVISTIC_LOSSES:
            LOSSES.get(self.loss)
        if self.model not in model_names():
            raise GanforgeError(f"unknown model {self.model!r}; choose from: {', '.join(model_names())}")
        if self.preset not in ("plain", "recommended"):
            raise GanforgeError(f"--preset must be auto, plain or recommended, got {self.preset!r}")
        from ganforge.train.remedies import check_config

        check_config(self)
        check_highres(self)
        return self

    def _validate_pix2pix(self) -> None:
        from ganforge.data.paired import check_direction
        from ganforge.models.patchgan import strided_layers_for

        check_direction(self.direction)
        strided_layers_for(self.patch_size)  # numeric ranges are checked with the others (config/ranges.py)
        if self.l1_weight == 0 and self.adversarial_weight == 0:
            raise GanforgeError("--l1-weight and --adversarial-weight are both 0: G would have nothing to learn")

    def _validate_latent_classes(self) -> None:
        if not self.latent_classes:
            return
        if self.model != "dcgan" or self.conditional:
            raise GanforgeError("--latent-classes (InfoGAN) works with the unconditional dcgan model; a "
                                "--conditional run is told its classes already")
        if self.pack > 1:
            raise GanforgeError("--latent-classes needs D to see one image at a time: drop --pack")
        if self.latent_classes < 2 or (self.latent_dim is not None and self.latent_classes >= self.latent_dim):
            raise GanforgeError(f"--latent-classes must be at least 2 and below --latent-dim ({self.latent_dim}), "
                                f"got {self.latent_classes}")

    def _validate_eval(self) -> None:
        if not isinstance(self.eval_every, int) or isinstance(self.eval_every, bool) or self.eval_every < 0:
            raise GanforgeError(f"--eval-every must be a whole number of steps (0 = off), got {self.eval_every!r}")
        if not isinstance(self.eval_samples, int) or self.eval_samples < 10:
            raise GanforgeError(f"--eval-samples must be a whole number >= 10, got {self.eval_samples!r}")
        if self.eval_every and self.model == "pix2pix":
            raise GanforgeError("--eval-every scores noise-to-image generators; a pix2pix run is scored on held-out "
                                "pairs at the end of training (and by ganforge eval-translation)")
        from ganforge.metrics.scores import group_of

        group_of(self.eval_metric)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, values: dict[str, Any], source: str = "config") -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise GanforgeError(f"{source}: unknown setting(s) {', '.join(unknown)}")
        return cls(**values)

    @classmethod
    def load(cls, path: Path) -> TrainConfig:
        try:
            values = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise GanforgeError(f"{path}: cannot read config ({err})") from None
        if not isinstance(values, dict):
            raise GanforgeError(f"{path}: config must be a JSON object")
        return cls.from_dict(values, str(path))
