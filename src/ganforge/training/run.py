"""Building a run: from a config and its data, everything one training run trains with, as one value.

Networks, optimisers, EMA, D's input remedies, the recipe's step, the batch stream and the noise. Nothing
here reads or writes the run folder (training/run_folder.py) or runs the loop (training/loop.py), and nothing
changes the process: thread count and allocator are the caller's (training/speed.py: process_settings), and
torch's global RNG is forked wherever the run draws from it (RunRandom).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ganforge.accel import AccelPolicy, accelerate
from ganforge.config import TrainConfig, planned_steps, resolve_config, resume_config
from ganforge.data import ImageDataset
from ganforge.data.batches import BatchStream
from ganforge.errors import GanforgeError
from ganforge.models import create_model
from ganforge.models.layers import apply_spectral_norm
from ganforge.recipes import Recipe, Step, StepParts, recipe_for
from ganforge.runtime import loss_scalers, resolve_device, resolve_precision
from ganforge.training import distributed
from ganforge.training.coverage import CoverageCheck, make_coverage_check
from ganforge.training.ema import WeightAverage, make_ema
from ganforge.training.remedies import Remedies
from ganforge.training.speed import adam
from ganforge.training.sync_bn import convert_sync_batchnorm


def check_request(config: TrainConfig, resume: bool = False, dataset: ImageDataset | None = None) -> TrainConfig:
    """The request settled (config/resolver.py) and refused if bad before the run folder is touched: a bad flag must
    not leave a half-made run behind. A resumed run's settings come from its folder (run_config)."""
    if not resume:
        config = resolve_config(config, images=len(dataset) if dataset is not None else None)
    if distributed.launched_by_torchrun() and config.balance in ("skip", "adaptive"):
        # each process would decide from its own losses: one could skip an update the others make and hang
        raise GanforgeError(f"--balance {config.balance} is not supported with several processes (torchrun) yet; "
                            "use --balance fixed or ttur")
    timed = planned_steps(config, dataset_size=1) is None  # only a time budget (the data's size cannot matter)
    if distributed.launched_by_torchrun() and config.lr_decay_start is not None and timed:
        # each process's clock differs: their rates would drift apart and so would their weights
        raise GanforgeError("--lr-decay-start over a time budget is not supported with several processes "
                            "(torchrun); give --steps or --epochs to decay over")
    return config


def run_config(config: TrainConfig, state: dict[str, Any] | None, dataset: ImageDataset | None = None,
               quiet: bool = False) -> tuple[TrainConfig, ImageDataset]:
    """The settings this run trains with, and its data. On resume (`state` from the run folder) the saved settings
    (flat or in sections), of which only the run's length and runtime settings may change (config/resolver.py)."""
    if state is not None:
        config = resume_config(state["config"], config.given())
    dataset = dataset or recipe_for(config).load_data(config, quiet=quiet)
    return config, dataset


class RunRandom:
    """The run's own stream of torch's global RNG, which weight init, dropout, penalties' mixing weights and
    instance noise draw from.

    Installed only while the run builds its networks or trains (`active`): the process's stream is left as
    it was. It starts where torch.manual_seed(seed) would, so a seed gives the same weights as seeding
    globally did."""

    def __init__(self, seed: int, device: torch.device) -> None:
        self.device = device
        self._cpu = torch.Generator().manual_seed(seed).get_state()
        # an accelerator's stream (cuda, mps) is seeded alike; checkpoints hold the CPU stream only
        self._accelerator = (None if device.type == "cpu"
                             else torch.Generator(device=device).manual_seed(seed).get_state())
        self._active = False

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        """Draw from the run's stream inside the block; the process's stream is back afterwards."""
        on_accelerator = self._accelerator is not None
        with torch.random.fork_rng(devices=[self.device] if on_accelerator else [],
                                   device_type=self.device.type if on_accelerator else None):
            torch.set_rng_state(self._cpu)
            if on_accelerator:
                torch.get_device_module(self.device.type).set_rng_state(self._accelerator, self.device)
            self._active = True
            try:
                yield
            finally:
                self._active = False
                self._cpu = torch.get_rng_state()
                if on_accelerator:
                    self._accelerator = torch.get_device_module(self.device.type).get_rng_state(self.device)

    def cpu_state(self) -> torch.Tensor:
        """The CPU stream's state now (what a checkpoint holds)."""
        return torch.get_rng_state() if self._active else self._cpu.clone()

    def set_cpu_state(self, state: torch.Tensor) -> None:
        if self._active:
            torch.set_rng_state(state)
        else:
            self._cpu = state.clone()


@dataclass(eq=False)
class Run:
    """Everything one training run trains with; `state_dict` / `restore` are all a checkpoint holds of it."""

    config: TrainConfig
    dataset: ImageDataset
    recipe: Recipe
    dist: distributed.Context
    device: torch.device
    precision: str
    rng: RunRandom
    G: nn.Module
    D: nn.Module
    G_ema: nn.Module | None
    weight_average: WeightAverage | None
    opt_G: torch.optim.Optimizer
    opt_D: torch.optim.Optimizer
    scalers: tuple[torch.amp.GradScaler | None, ...]  # G's and D's loss scalers (fp16), else (None, None)
    remedies: Remedies  # D's input (augmentation, instance noise, packing), the balance policy, the doctor
    step_fn: Step
    batches: BatchStream
    noise: torch.Generator  # the latents of every step
    sample_inputs: dict[str, torch.Tensor]  # the fixed inputs of the sample grid
    doctor_real: torch.Tensor  # a fixed real batch the doctor compares samples with
    coverage_check: CoverageCheck | None  # the classes / 2D modes G covers
    total_steps: int | None
    step: int = 0

    def __post_init__(self) -> None:
        self.G_params = list(self.G.parameters())  # for the gradient norms, gathered once

    @property
    def sampler(self) -> nn.Module:
        """The G that samples and scores use: the EMA copy when there is one."""
        return self.G_ema if self.G_ema is not None else self.G

    def optimizers(self) -> list[torch.optim.Optimizer]:
        return [self.opt_G, self.opt_D]

    def loss_scalers(self) -> list[torch.amp.GradScaler]:
        """fp16's loss scalers, G's then D's (none in fp32/bf16)."""
        return [s for s in self.scalers if s is not None]

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """(real, z, labels) for one step."""
        real, labels = self.batches.next()
        real = real.contiguous(memory_format=self.recipe.memory_format)
        z = self.dist.shard(self.recipe.noise(self.config.batch_size, self.noise, self.device))  # global batch's
        return real, z, labels

    def state_dict(self) -> dict[str, Any]:
        return {
            "recipe": self.recipe.name,
            **self.recipe.checkpoint_extras(self.D),
            "config": self.config.to_json(),
            "model": self.recipe.model_name(),
            "model_args": self.recipe.model_args(),
            "step": self.step,
            "data_position": self.batches.position,
            "G": self.G.state_dict(),
            "D": self.D.state_dict(),
            "G_ema": self.G_ema.state_dict() if self.G_ema is not None else None,
            "opt_G": self.opt_G.state_dict(),
            "opt_D": self.opt_D.state_dict(),
            "loss_scalers": [scaler.state_dict() for scaler in self.loss_scalers()],
            "rng": {"noise": self.noise.get_state(), "torch": self.rng.cpu_state()},
            "remedies": self.remedies.state_dict(),
            "recipe_state": self.recipe.state_dict(),
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Continue from a checkpoint's state (resume, or a rollback after a numerical fault)."""
        self.G.load_state_dict(state["G"])
        self.D.load_state_dict(state["D"])
        if self.G_ema is not None and state.get("G_ema") is not None:
            self.G_ema.load_state_dict(state["G_ema"])
        self.opt_G.load_state_dict(state["opt_G"])
        self.opt_D.load_state_dict(state["opt_D"])
        for scaler, saved in zip(self.loss_scalers(), state.get("loss_scalers") or []):
            scaler.load_state_dict(saved)
        self.noise.set_state(state["rng"]["noise"])
        self.rng.set_cpu_state(state["rng"]["torch"])
        self.step = int(state["step"])
        self.batches.position = int(state["data_position"])
        self.remedies.load_state_dict(state.get("remedies"), self.step)
        self.recipe.load_state_dict(state.get("recipe_state"))


def build_networks(recipe: Recipe, config: TrainConfig, dist: distributed.Context, device: torch.device,
                   rng: RunRandom, accel: AccelPolicy | None = None) -> tuple[nn.Module, nn.Module]:
    """G and D as the recipe names them, initialised from the run's stream, on the device in the recipe's layout,
    with the faster forms of their layers that `accel` allows (default: the device's; accel/)."""
    policy = accel or AccelPolicy.for_device(device)
    with rng.active():
        G, D = create_model(recipe.model_name(), **recipe.model_args())
        G, D = accelerate(G, policy), accelerate(D, policy)  # before spectral norm, which then wraps the fast forms
        if config.spectral_norm:
            apply_spectral_norm(D)  # (draws its power iteration's start vectors)
    if config.sync_bn and dist.enabled:
        G, D = convert_sync_batchnorm(G), convert_sync_batchnorm(D)
    G.to(device).to(memory_format=recipe.memory_format)
    D.to(device).to(memory_format=recipe.memory_format)
    return G, D


def build_run(config: TrainConfig, dataset: ImageDataset, dist: distributed.Context | None = None,
              accel: AccelPolicy | None = None) -> Run:
    """A run at step 0 for a resolved config (run_config) and its data."""
    dist = dist or distributed.Context()
    device = dist.place(resolve_device(config.device))
    precision = resolve_precision(config.precision, device)
    recipe = recipe_for(config)(config, dataset)
    recipe.check_data()
    rng = RunRandom(config.seed, device)
    G, D = build_networks(recipe, config, dist, device, rng, accel)
    opt_G = adam(G.parameters(), config.lr_g, (config.beta1, config.beta2), device)
    opt_D = adam(D.parameters(), config.lr_d, (config.beta1, config.beta2), device)
    dist.average_gradients([opt_G, opt_D])
    if precision == "fp16" and dist.enabled:  # one rank skipping an overflowed step would hang the all-reduce
        raise GanforgeError("--precision fp16 is not available with several processes; use bf16 or fp32")
    scalers = loss_scalers(precision, device)
    G_ema = make_ema(G) if config.ema_beta > 0 else None
    remedies = Remedies(config, D, opt_D)
    step_D = remedies.d_input if recipe.wraps_d else D
    step_fn = recipe.make_step(StepParts(G, step_D, opt_G, opt_D, device, precision, *scalers))
    batches = recipe.batches(device, config.batch_size, config.seed, rank=dist.rank, world_size=dist.world_size)
    dist.local_batch_size(config.batch_size)  # a clear error when it does not divide over the processes
    return Run(
        config=config, dataset=dataset, recipe=recipe, dist=dist, device=device, precision=precision,
        rng=rng, G=G, D=D, G_ema=G_ema, weight_average=WeightAverage(G_ema, G) if G_ema is not None else None,
        opt_G=opt_G, opt_D=opt_D, scalers=scalers, remedies=remedies, step_fn=step_fn, batches=batches,
        noise=torch.Generator(device=device).manual_seed(config.seed + 1),
        sample_inputs=recipe.sample_inputs(device),
        doctor_real=recipe.batches(device, config.sample_count, config.seed + 3).next()[0],
        coverage_check=make_coverage_check(recipe, device, config.seed),
        total_steps=planned_steps(config, len(dataset)),
    )
