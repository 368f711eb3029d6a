"""Training speed: ganforge's loop against a plain reference loop, same architecture, same process.

    python benchmarks/train_speed.py            # DCGAN-32 (batch 128) and DCGAN-64 (batch 64)
    python benchmarks/train_speed.py --quick    # fewer repeats

The reference is the pytorch/examples DCGAN loop written the simplest way: fp32, contiguous
tensors, per-batch conversion from uint8 in a DataLoader, a fresh fake batch for the G step,
optimizer.zero_grad(). Each figure is the median of several timed windows after warm-up; compare
the ratio printed on each line, not absolute numbers across runs (the machine is shared).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F

from ganforge.data.batches import BatchStream
from ganforge.data.builtin import render_shapes
from ganforge.losses import LOSSES
from ganforge.models import create_model
from ganforge.recipes.gan import GANStep
from ganforge.runtime import resolve_precision


def reference_steps(resolution: int, batch_size: int, images: np.ndarray, steps: int):
    """pytorch/examples-style DCGAN loop; yields after every step."""
    torch.manual_seed(0)
    G, D = create_model("dcgan", resolution=resolution, channels=3)
    opt_G = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_D = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))

    class Data(torch.utils.data.Dataset):
        def __len__(self):
            return len(images)

        def __getitem__(self, i):  # per-item conversion, as ToTensor + Normalize would do
            return torch.from_numpy(images[i]).permute(2, 0, 1).float().div(255).sub(0.5).div(0.5)

    loader = torch.utils.data.DataLoader(Data(), batch_size=batch_size, shuffle=True, drop_last=True)
    done = 0
    while True:
        for real in loader:
            ones, zeros = torch.ones(batch_size), torch.zeros(batch_size)
            opt_D.zero_grad()
            fake = G(torch.randn(batch_size, 100))
            loss_D = F.binary_cross_entropy_with_logits(D(real), ones) + \
                F.binary_cross_entropy_with_logits(D(fake.detach()), zeros)
            loss_D.backward()
            opt_D.step()
            opt_G.zero_grad()
            fake = G(torch.randn(batch_size, 100))  # a fresh fake batch for the G step
            loss_G = F.binary_cross_entropy_with_logits(D(fake), ones)
            loss_G.backward()
            opt_G.step()
            done += 1
            yield
            if done >= steps:
                return


def ganforge_steps(resolution: int, batch_size: int, images: np.ndarray, steps: int, precision: str):
    """ganforge's own training step with the data path the loop uses."""
    torch.manual_seed(0)
    device = torch.device("cpu")
    G, D = create_model("dcgan", resolution=resolution, channels=3)
    G.to(memory_format=torch.channels_last)
    D.to(memory_format=torch.channels_last)
    opt_G = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_D = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    step = GANStep(G, D, opt_G, opt_D, LOSSES.get("nonsat"), device, resolve_precision(precision, device))
    batches = BatchStream(torch.from_numpy(images), batch_size, seed=0)
    noise = torch.Generator().manual_seed(1)
    for _ in range(steps):
        real, _ = batches.next()
        step(real.contiguous(memory_format=torch.channels_last), torch.randn(batch_size, 100, generator=noise))
        yield


def images_per_second(steps_iter, batch_size: int, warmup: int, window: int, windows: int) -> float:
    for _ in range(warmup):
        next(steps_iter)
    rates = []
    for _ in range(windows):
        start = time.perf_counter()
        for _ in range(window):
            next(steps_iter)
        rates.append(window * batch_size / (time.perf_counter() - start))
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    warmup, window, windows = (2, 3, 3) if args.quick else (3, 5, 5)
    total = warmup + window * windows
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"{'config':<22}{'reference img/s':>16}{'ganforge img/s':>16}{'ratio':>8}  precision")
    for resolution, batch_size in ((32, 128), (64, 64)):
        images, _ = render_shapes(1024, resolution, seed=0)
        ref = images_per_second(reference_steps(resolution, batch_size, images, total), batch_size,
                                warmup, window, windows)
        for precision in ("fp32", "auto"):
            ours = images_per_second(ganforge_steps(resolution, batch_size, images, total, precision), batch_size,
                                     warmup, window, windows)
            label = f"DCGAN-{resolution} batch {batch_size}"
            chosen = resolve_precision(precision, torch.device("cpu"))
            print(f"{label:<22}{ref:>16.1f}{ours:>16.1f}{ours / ref:>7.2f}x  {chosen}")


if __name__ == "__main__":
    main()
