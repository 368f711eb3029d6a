"""Does Winograd's extra bf16 rounding change DCGAN-64's training? Gradient error, then KID over paired seeds.

`accel/winograd.py` runs DCGAN-64's stride-2 layers near the 4 px grid (128-512 channels) in bf16 with 9 products
per tile instead of 16; its results carry a few times the rounding error of a bf16 conv (docs/speed.md). This
benchmark measures what that does to training, both ways against the bf16 loop without Winograd (the matmul weight
gradient there):

1. **Gradients**: on one batch, the relative error of D's and G's bf16 gradients against fp32 (autocast off), with and
   without Winograd, beside the batch-to-batch noise (fp32 gradients on two different batches): rounding well below
   that noise is invisible to SGD. Measured at initialisation and on the trained networks of section 2.
2. **Training**: DCGAN-64 (the default model, width 64) on 64 px built-in shapes for a fixed number of steps, with and
   without Winograd, paired by seed (same data order, noise and initial weights); 1,000 EMA samples scored by KID
   against 1,000 held-out shapes in the features of a small shape classifier (as benchmarks/highres.py does).

    python benchmarks/winograd_quality.py --steps 800 --seeds 0,1,2,3      # ~28 min on 2 cores
    python benchmarks/winograd_quality.py --steps 2 --seeds 0 --images 128 --heldout 64   # smoke run
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))
from highres import features, train_feature_net  # noqa: E402  (a sibling benchmark script)

from ganforge.accel import AccelPolicy, accelerate  # noqa: E402
from ganforge.config import TrainConfig  # noqa: E402
from ganforge.config.presets import preset_values  # noqa: E402
from ganforge.data.builtin import shapes  # noqa: E402
from ganforge.images import from_uint8  # noqa: E402
from ganforge.inference.sampling import generate, latents  # noqa: E402
from ganforge.metrics.kid import kid  # noqa: E402
from ganforge.models import create_model  # noqa: E402
from ganforge.models.layers import apply_spectral_norm  # noqa: E402
from ganforge.training.gradients import gradients  # noqa: E402
from ganforge.training.loop import Trainer  # noqa: E402

RESOLUTION = 64


def winograd(enabled: bool) -> AccelPolicy:
    """The default policy (Winograd on) or the same without Winograd (the matmul weight gradient where it was)."""
    return AccelPolicy() if enabled else dataclasses.replace(AccelPolicy(), winograd_dtypes=())


def networks(trainer: Trainer, policy: AccelPolicy) -> tuple[nn.Module, nn.Module]:
    """Copies of the trainer's G and D (the same weights and spectral-norm vectors) with `policy`'s forms."""
    G, D = (accelerate(net, policy) for net in create_model(trainer.recipe.model_name(), **trainer.recipe.model_args()))
    if trainer.config.spectral_norm:
        apply_spectral_norm(D)
    for built, net in ((G, trainer.G), (D, trainer.D)):
        built.load_state_dict(net.state_dict())
        built.to(memory_format=torch.channels_last).train(net.training)
    return G, D


def config(args: argparse.Namespace, seed: int) -> TrainConfig:
    """DCGAN-64 at width 64 with the chosen preset (plain: DCGAN's settings, in which D overpowers G on shapes)."""
    return TrainConfig(**{**preset_values("shapes", args.preset), "ema_beta": 0.999}, data="shapes",
                       resolution=RESOLUTION, channels=3, model="dcgan", batch_size=args.batch_size,
                       total_steps=args.steps, augment="off", log_every=100, sample_every=10**9,
                       checkpoint_every=10**9, eval_every=0, device="cpu", precision="bf16", seed=seed,
                       threads=args.threads)


def relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


def gradient_rows(label: str, trainer: Trainer) -> list[str]:
    """Relative gradient errors of bf16 with / without Winograd against fp32, and fp32's batch-to-batch noise."""
    trainer.G.train(), trainer.D.train()
    batches = [trainer.next_batch()[:2] for _ in range(2)]
    G, D = networks(trainer, winograd(True))
    reference = gradients(G, D, *batches[0], bf16=False)
    other_batch = gradients(G, D, *batches[1], bf16=False)
    with_w = gradients(G, D, *batches[0], bf16=True)
    without_w = gradients(*networks(trainer, winograd(False)), *batches[0], bf16=True)
    rows = []
    for i, net in enumerate(("D", "G")):
        rows.append(f"| {label} | {net} | {relative(with_w[i], reference[i]):.2e} | "
                    f"{relative(without_w[i], reference[i]):.2e} | "
                    f"{relative(with_w[i], reference[i]) / relative(without_w[i], reference[i]):.2f}x | "
                    f"{relative(other_batch[i], reference[i]):.2e} |")
    return rows


def train(args: argparse.Namespace, seed: int, use_winograd: bool, data, out: Path) -> tuple[Trainer, float]:
    trainer = Trainer(config(args, seed), out, dataset=data, quiet=True, accel=winograd(use_winograd))
    start = time.perf_counter()
    if trainer.run().status == "interrupted":
        raise KeyboardInterrupt
    return trainer, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=600, help="training steps per run")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds; each trains with and without")
    parser.add_argument("--images", type=int, default=5000, help="training images")
    parser.add_argument("--heldout", type=int, default=1000, help="held-out shapes = generated samples scored")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--preset", default="recommended", choices=("plain", "recommended"),
                        help="the image recipe (hinge + spectral norm, nearest upsampling) or DCGAN's settings")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    train_set = shapes(RESOLUTION, count=args.images, seed=0)
    heldout = from_uint8(shapes(RESOLUTION, count=args.heldout, seed=1).images)
    classifier_set = shapes(RESOLUTION, count=3000, seed=2)
    net = train_feature_net(from_uint8(classifier_set.images[:2500]), classifier_set.labels[:2500])
    with torch.no_grad():
        predicted = net.head(features(net, from_uint8(classifier_set.images[2500:]))).argmax(1)
    accuracy = (predicted == classifier_set.labels[2500:]).float().mean().item()
    print(f"shape classifier (KID features): held-out accuracy {accuracy:.1%} on 500 shapes", flush=True)
    real_features = features(net, heldout)
    floor = kid(features(net, from_uint8(train_set.images[:args.heldout])), real_features)

    grad_rows: list[str] = []
    results: dict[bool, list[float]] = {True: [], False: []}
    seconds: dict[bool, list[float]] = {True: [], False: []}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in (int(s) for s in args.seeds.split(",")):
            for use_winograd in (False, True):  # paired: same seed, same data order and initial weights
                trainer, wall = train(args, seed, use_winograd, train_set, Path(tmp) / f"{seed}-{use_winograd}")
                G = trainer.G_ema.eval()  # a copy of the trainer's G: its forms
                with torch.no_grad():
                    fake = generate(G, latents(args.heldout, trainer.config.latent_dim, seed=123)).float()
                score = kid(features(net, fake.clamp(-1, 1)), real_features).mean * 1000
                results[use_winograd].append(score)
                seconds[use_winograd].append(wall)
                print(f"seed {seed} winograd {'on ' if use_winograd else 'off'}: {trainer.step} steps in {wall:.0f} s, "
                      f"KID x1000 {score:.2f}", flush=True)
                if seed == int(args.seeds.split(",")[0]) and not use_winograd:
                    fresh = Trainer(config(args, seed), Path(tmp) / "fresh", dataset=train_set, quiet=True)
                    grad_rows += gradient_rows("initialisation", fresh)
                    grad_rows += gradient_rows(f"after {trainer.step} steps (without Winograd)", trainer)

    print("\nGradients against fp32 on one batch of 64 (relative L2 error), and fp32 on another batch:\n")
    print("| networks | of | bf16 + Winograd | bf16 without | ratio | batch-to-batch (fp32) |")
    print("|---|---|---|---|---|---|")
    print("\n".join(grad_rows))
    print(f"\nKID x1000 after {args.steps} steps (DCGAN-64, {args.preset} preset, batch {args.batch_size}, "
          f"{args.images} shapes, {args.heldout} EMA samples vs {args.heldout} held-out; training shapes vs held-out: "
          f"{floor.mean * 1000:.2f})\n")
    print("| seed | without Winograd | with Winograd | difference |")
    print("|---|---|---|---|")
    for i, seed in enumerate(args.seeds.split(",")):
        off, on = results[False][i], results[True][i]
        print(f"| {seed} | {off:.2f} | {on:.2f} | {on - off:+.2f} |")
    diffs = [on - off for on, off in zip(results[True], results[False], strict=True)]
    print(f"| mean | {statistics.mean(results[False]):.2f} | {statistics.mean(results[True]):.2f} | "
          f"{statistics.mean(diffs):+.2f} |")
    print(f"\ntraining wall time per run: without {statistics.median(seconds[False]):.0f} s, with "
          f"{statistics.median(seconds[True]):.0f} s (medians)")


if __name__ == "__main__":
    main()
