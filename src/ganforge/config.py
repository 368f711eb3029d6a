"""Typed training configuration: validated once, saved as JSON in every run and checkpoint."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from ganforge.errors import GanforgeError

DEFAULT_STEPS = 5000  # used when none of steps / epochs / max_minutes is given


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
    # length
    total_steps: int | None = None
    epochs: float | None = None
    max_minutes: float | None = None
    # execution
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"  # fp32 | bf16 | auto (bf16 where the hardware has native kernels)
    # outputs
    log_every: int = 50
    sample_every: int = 500
    checkpoint_every: int = 1000
    sample_count: int = 64
    tensorboard: bool = False  # also write TensorBoard events to RUN/tensorboard (optional extra)
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

    def validate(self) -> TrainConfig:
        """Raise GanforgeError naming the flag for any value that cannot work."""

        def flag(name: str) -> str:
            return "--" + name.replace("_", "-")

        positive_ints = ["latent_dim", "g_width", "d_width", "batch_size", "log_every", "sample_every",
                         "checkpoint_every", "sample_count"]
        for name in positive_ints:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise GanforgeError(f"{flag(name)} must be a positive whole number, got {value!r}")
        for name in ["lr_g", "lr_d"]:
            value = getattr(self, name)
            if not (0 < value < 1):
                raise GanforgeError(f"{flag(name)} must be between 0 and 1 (e.g. 2e-4), got {value!r}")
        for name in ["beta1", "beta2"]:
            value = getattr(self, name)
            if not (0 <= value < 1):
                raise GanforgeError(f"{flag(name)} must be in [0, 1), got {value!r}")
        if not (0 <= self.ema_beta < 1):
            raise GanforgeError(f"--ema-beta must be in [0, 1), got {self.ema_beta!r}")
        if self.total_steps is not None and self.total_steps < 1:
            raise GanforgeError(f"--steps must be a positive whole number, got {self.total_steps!r}")
        if self.epochs is not None and not self.epochs > 0:
            raise GanforgeError(f"--epochs must be positive, got {self.epochs!r}")
        if self.max_minutes is not None and not self.max_minutes > 0:
            raise GanforgeError(f"--max-minutes must be positive, got {self.max_minutes!r}")
        if self.resolution is not None:
            from ganforge.data.dataset import check_resolution

            check_resolution(self.resolution)
        if self.channels not in (None, 1, 3):
            raise GanforgeError(f"--channels must be 1 or 3, got {self.channels}")
        if self.device not in ("auto", "cpu", "cuda", "mps") and not self.device.startswith("cuda:"):
            raise GanforgeError(f"--device must be auto, cpu, cuda or mps, got {self.device!r}")
        if self.precision not in ("auto", "fp32", "bf16"):
            raise GanforgeError(f"--precision must be auto, fp32 or bf16, got {self.precision!r}")
        if self.upsample not in ("transpose", "nearest"):
            raise GanforgeError(f"--upsample must be transpose or nearest, got {self.upsample!r}")
        from ganforge.losses import LOSSES
        from ganforge.models import model_names

        LOSSES.get(self.loss)
        if self.model not in model_names():
            raise GanforgeError(f"unknown model {self.model!r}; choose from: {', '.join(model_names())}")
        if self.preset not in ("plain", "recommended"):
            raise GanforgeError(f"--preset must be auto, plain or recommended, got {self.preset!r}")
        from ganforge.train.remedies import check_config

        check_config(self)
        return self

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
