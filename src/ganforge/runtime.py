"""Device and numeric-precision choices, made once per run."""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Iterator

import torch

from ganforge.errors import GanforgeError


def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise GanforgeError("--device cuda: no CUDA GPU is visible to PyTorch (use --device cpu or auto)")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise GanforgeError("--device mps: Apple's MPS backend is not available here (use --device cpu or auto)")
    return torch.device(name)


@functools.cache  # asked by autocast() on every bf16 forward pass; the hardware does not change
def native_bf16(device: torch.device) -> bool:
    """True where bf16 matrix/conv kernels are native (fast), not emulated."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        try:
            return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        except (AttributeError, RuntimeError):
            return False
    return False


def resolve_precision(name: str, device: torch.device) -> str:
    """auto: bf16 where its kernels are native, else fp16 on CUDA GPUs older than Ampere, else fp32."""
    if name == "auto":
        if native_bf16(device):
            return "bf16"
        return "fp16" if device.type == "cuda" else "fp32"
    if name in ("bf16", "fp16") and device.type == "mps":
        raise GanforgeError(f"--precision {name} is not supported on mps; use fp32")
    return name


AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


EMULATED_BF16 = ("warning: bf16 was asked for, but this CPU has no native bf16 kernels (no AVX-512 BF16 or AMX): "
                 "they are emulated and run many times slower than fp32 (a VGG19 step: 28x); --precision auto "
                 "picks fp32 here")


@functools.cache
def warn_emulated_bf16() -> None:
    """Said once per process: every bf16 forward pass comes through autocast()."""
    print(EMULATED_BF16, file=sys.stderr)


@contextlib.contextmanager
def autocast(device: torch.device, precision: str) -> Iterator[None]:
    """bf16/fp16 autocast for forward passes; weights and optimiser state stay fp32."""
    if precision == "bf16" and device.type == "cpu" and not native_bf16(device):
        warn_emulated_bf16()
    if precision in AUTOCAST_DTYPES:
        with torch.autocast(device_type=device.type, dtype=AUTOCAST_DTYPES[precision]):
            yield
    else:
        yield


def loss_scalers(precision: str, device: torch.device) -> tuple[torch.amp.GradScaler | None, ...]:
    """G's and D's dynamic loss scalers: fp16 gradients underflow without loss scaling (bf16 has fp32's exponent
    range and needs none). One each, so G's and D's steps (taken at different moments) scale independently."""
    if precision != "fp16":
        return None, None
    return torch.amp.GradScaler(device.type), torch.amp.GradScaler(device.type)


def scaled_step(optimizer: torch.optim.Optimizer, loss: torch.Tensor,
                scaler: torch.amp.GradScaler | None = None) -> None:
    """backward + step, through the loss scaler when there is one (fp16): a step whose gradients overflowed is
    skipped and the scale lowered, instead of writing inf into the weights."""
    if scaler is None:
        loss.backward()
        optimizer.step()
        return
    scale = scaler.get_scale()  # a host sync, fp16 only: knowing whether the step was skipped needs it
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    if scaler.get_scale() < scale:  # overflowed and skipped: drop the inf gradients (not a divergence)
        optimizer.zero_grad(set_to_none=True)


OUT_OF_MEMORY_SIGNS = ("out of memory", "can't allocate memory", "not enough memory")


def is_out_of_memory(err: BaseException) -> bool:
    """CUDA, MPS and CPU allocators all report running out differently; recognise each."""
    if isinstance(err, MemoryError | torch.cuda.OutOfMemoryError):
        return True
    return isinstance(err, RuntimeError) and any(sign in str(err).lower() for sign in OUT_OF_MEMORY_SIGNS)


def out_of_memory_message(device: torch.device | str, batch_size: int | None, step: int | None) -> str:
    """What to do instead of a raw allocator traceback: a smaller batch first, then cheaper settings."""
    where = "GPU" if str(device).startswith(("cuda", "mps")) else str(device).upper()
    if batch_size is None or step is None:  # while setting up: the data set or the networks do not fit
        return (f"out of {where} memory while putting the data set and networks on {device}; use fewer images, "
                "a smaller --resolution or --g-width/--d-width, or --device cpu")
    smaller = max(1, batch_size // 2)
    hint = f"try --batch-size {smaller}" if batch_size > 1 else "try a smaller --resolution or --g-width/--d-width"
    return (f"out of {where} memory at step {step} with batch size {batch_size}; {hint} in a new run "
            "(--precision bf16 also saves memory); checkpoints already written are kept")


@contextlib.contextmanager
def eval_mode(*modules: torch.nn.Module) -> Iterator[None]:
    """Run a block with `modules` in eval mode (no dropout, batch-norm running statistics), then restore
    each one's own mode: sampling and checks in the middle of training must not switch training off."""
    was_training = [module.training for module in modules]
    for module in modules:
        module.eval()
    try:
        yield
    finally:
        for module, mode in zip(modules, was_training):
            module.train(mode)


@contextlib.contextmanager
def torch_threads(count: int | None) -> Iterator[None]:
    """Run a block with `count` intra-op threads (None: unchanged), then restore the previous number.

    Tiny models (the 2D MLPs) run faster on one thread than split across several."""
    previous = torch.get_num_threads()
    if count is not None:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
