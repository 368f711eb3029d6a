"""Feature extraction speed (InceptionV3 at 299 px) and end-to-end `ganforge eval` time.

Part 1 compares, in the same process and on the same images, the plain reference (fp32, NCHW, batch
norm as separate layers) with ganforge's path (batch norm folded into the convs, channels_last, bf16
autocast), and reports how far the fast path's features move: relative error and FID between the
two feature sets of the same images, next to the FID between two halves of the real data.

Part 2 times `evaluate_checkpoints` (generate N samples at 32 px from a DCGAN checkpoint, extract features,
FID + KID) with the digits extractor, and optionally with inception-v3.

No pretrained Inception weights can be downloaded here: the network gets random weights whose batch
norm statistics are calibrated on real digits, so activations have realistic scales. Speed does not
depend on the values; the precision deviation is indicative only.

    nice -n 10 python benchmarks/feature_extraction.py            # part 1 + part 2 (digits, 10,000 samples)
    nice -n 10 python benchmarks/feature_extraction.py --e2e-inception-n 1000 --e2e-inception-precision bf16
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch

from ganforge.config import TrainConfig
from ganforge.data import load_dataset
from ganforge.images import from_uint8
from ganforge.metrics.evaluate import evaluate_checkpoints
from ganforge.metrics.features import create_extractor, extract_features
from ganforge.metrics.fid import fid
from ganforge.metrics.inception import FIDInceptionV3
from ganforge.training.loop import train


@torch.no_grad()
def calibrated_random_inception(images: torch.Tensor) -> FIDInceptionV3:
    """Random conv weights; batch-norm running statistics measured on real images (cumulative average)."""
    torch.manual_seed(0)
    model = FIDInceptionV3()
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.momentum = None
            module.reset_running_stats()
    model.train()
    for batch in images.split(16):
        model(batch)
    return model.eval()


def timed(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def part1(digits: torch.Tensor, batch: int, repeats: int, n_features: int) -> Path:
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, load average {os.getloadavg()}")
    reference = calibrated_random_inception(digits[:48])
    weights = Path(tempfile.mkdtemp()) / "calibrated-random-inception.pth"
    torch.save(reference.state_dict(), weights)
    ours = create_extractor("inception-v3", weights=str(weights))  # folded batch norm, channels_last
    plain = copy.deepcopy(reference)  # fp32, NCHW, separate batch norm

    def run_plain(x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return plain(x.contiguous())[0]

    paths = {
        "plain fp32 (NCHW, separate batch norm)": run_plain,
        "ours fp32 (folded BN, channels_last)": lambda x: extract_features(ours, x, precision="fp32").features,
        "ours bf16 (folded BN, channels_last, bf16)": lambda x: extract_features(ours, x, precision="bf16").features,
    }
    if repeats == 0:
        return weights
    x = digits[:batch]
    for fn in paths.values():  # warm-up: oneDNN builds its kernels on first use
        fn(x), fn(x)
    times: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(repeats):  # interleaved, so a disturbance hits every path alike
        for name, fn in paths.items():
            times[name] += timed(lambda fn=fn: fn(x), 1)
    print(f"\n[1] InceptionV3 features of {batch} images (32 px -> 299 px), median of {repeats} "
          f"(load average now {os.getloadavg()[0]:.1f}):")
    base = statistics.median(times[next(iter(paths))])
    for name, runs in times.items():
        med = statistics.median(runs)
        print(f"    {name:44s} {batch / med:6.1f} img/s  {base / med:4.2f}x   runs {[round(t, 2) for t in runs]}")

    if n_features == 0:
        return weights
    imgs = digits[:n_features]
    f32 = torch.cat([run_plain(chunk) for chunk in imgs.split(batch)]).double()
    half = n_features // 2
    print(f"\n[1b] deviation from plain fp32 on {n_features} real digits (random weights: see the docstring):")
    print(f"    FID(first half, second half of the digits), plain fp32: {fid(f32[:half], f32[half:]):.4f}")
    for name in list(paths)[1:]:
        other = torch.cat([paths[name](chunk) for chunk in imgs.split(batch)]).double()
        rel = (other - f32).norm(dim=1) / f32.norm(dim=1)
        print(f"    {name}: per-image |diff| / |fp32| median {rel.median():.2e}, max {rel.max():.2e}; "
              f"FID(same images, fp32 vs this) {fid(f32, other):.4f}; "
              f"FID(halves) {fid(other[:half], other[half:]):.4f}")
    return weights


def digits_deviation() -> None:
    """The same check on a trained network: the digit classifier, fp32 vs bf16 on all 1,797 digits."""
    extractor = create_extractor("digits")
    images = from_uint8(load_dataset("digits", 32, 1).images)
    f32 = extract_features(extractor, images, precision="fp32").features.double()
    b16 = extract_features(extractor, images, precision="bf16").features.double()
    rel = (b16 - f32).norm(dim=1) / f32.norm(dim=1)
    half = len(images) // 2
    print(f"\n[1c] a trained network (digits extractor), bf16 vs fp32 on {len(images)} digits: per-image "
          f"|diff| / |fp32| median {rel.median():.2e}, max {rel.max():.2e}; FID(halves) fp32 "
          f"{fid(f32[:half], f32[half:]):.4f}, bf16 {fid(b16[:half], b16[half:]):.4f}")


def part2(n: int, extractor: str, weights: Path | None, precision: str = "fp32") -> None:
    root = Path(tempfile.mkdtemp())
    config = TrainConfig(data="digits", resolution=32, channels=1, total_steps=1, log_every=1, sample_every=1,
                         checkpoint_every=1, sample_count=4, device="cpu", seed=0)
    train(config, root / "run", quiet=True)  # a DCGAN 32 px checkpoint (default widths)
    w = str(weights) if weights else None
    start = time.perf_counter()  # fills the real-feature cache (1,797 digits), scoring only 2 samples
    evaluate_checkpoints(root / "run", "fid", 2, extractor=extractor, weights=w, precision=precision, quiet=True)
    print(f"    {extractor}: real features of 1,797 digits (once per data set + extractor, then cached): "
          f"{time.perf_counter() - start:.1f} s")
    start = time.perf_counter()
    records = evaluate_checkpoints(root / "run", "fid,kid", n, extractor=extractor, weights=w, precision=precision,
                                   quiet=True)
    took = time.perf_counter() - start
    print(f"    {extractor}: eval of {n} samples with cached real features: {took:.1f} s ({n / took:.0f} samples/s); "
          f"FID {records[0]['eval/fid']:.2f}, KID {records[0]['eval/kid']:.4f}, "
          f"precision {records[0]['eval/provenance']['precision']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per path (0: skip the speed test)")
    parser.add_argument("--features", type=int, default=512, help="images for the deviation check (0: skip)")
    parser.add_argument("--e2e-n", type=int, default=10_000, help="end-to-end eval samples (digits; 0: skip)")
    parser.add_argument("--e2e-inception-n", type=int, default=0, help="also time eval with inception-v3 (0 = skip)")
    parser.add_argument("--e2e-inception-precision", default="fp32", choices=["fp32", "bf16"])
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    digits = from_uint8(load_dataset("digits", 32, 3).images)
    weights = part1(digits, args.batch, args.repeats, args.features)
    if args.features:
        digits_deviation()
    print("\n[2] end-to-end eval (DCGAN 32 px checkpoint, FID + KID, real reference = 1,797 digits):")
    if args.e2e_n:
        part2(args.e2e_n, "digits", None)
    if args.e2e_inception_n:
        part2(args.e2e_inception_n, "inception-v3", weights, args.e2e_inception_precision)


if __name__ == "__main__":
    main()
