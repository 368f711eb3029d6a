"""KID at a fixed CPU budget: DCGAN, progressive growing, MSG-GAN and the FastGAN-style model at 128 px.

Each architecture trains on the same small set of built-in shapes (1,000 images, 128 px) for the same
CPU time on one thread, then 1,000 samples from its EMA generator are scored by KID against 1,000
held-out shapes (other seed, never trained on). No Inception weights can be fetched here, so the
features come from a small shape classifier trained by this script on a third set of shapes (its
held-out accuracy is printed): like the digits classifier, it shares nothing with any discriminator.
The first row, training shapes vs held-out shapes, is the floor a perfect generator would reach.

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/highres.py --minutes 2 --grid docs/images/highres-shapes-128.png
    python benchmarks/highres.py --minutes 0.05 --images 64 --heldout 64    # smoke run, seconds
    python benchmarks/highres.py --device cuda --resolution 256 --width-scale 4 --batch-size 32 --minutes 1.5
        # on a GPU: wall-clock minutes, wider networks (the GPU has the room)
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.config import resolve_config
from ganforge.data.builtin import shapes
from ganforge.images import from_uint8, save_grid
from ganforge.inference.sampling import generate, latents
from ganforge.metrics.kid import kid
from ganforge.training.budget import train_for_budget
from ganforge.training.loop import Trainer

RESOLUTION = 128
MODELS = {  # widths chosen so that every G and D has 0.1-0.3 M parameters
    "dcgan": dict(g_width=8, d_width=8),
    "progressive": dict(g_width=4, d_width=4, stage_images=400, fade_images=400),
    "msg": dict(g_width=4, d_width=4),
    "fastgan": dict(g_width=4, d_width=4),
}


class ShapeFeatures(nn.Module):
    """(N, 3, H, W) in [-1, 1] -> 128-d features (64 px input); `head` classifies the 5 shape kinds."""

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for c_in, c_out in [(3, 32), (32, 64), (64, 128), (128, 128)]:  # 64 -> 4 px
            layers += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(), nn.MaxPool2d(2)]
        self.body = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(128, 5)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(images.float(), size=(64, 64), mode="bilinear", antialias=True, align_corners=False)
        return self.body(x)


def train_feature_net(images: torch.Tensor, labels: torch.Tensor, epochs: int = 6,
                      device: str = "cpu") -> ShapeFeatures:
    torch.manual_seed(0)
    net = ShapeFeatures().to(device)
    images, labels = images.to(device), labels.to(device)
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    for _ in range(epochs):
        for idx in torch.randperm(len(images)).split(64):
            loss = F.cross_entropy(net.head(net(images[idx])), labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return net.eval()


@torch.no_grad()
def features(net: ShapeFeatures, images: torch.Tensor) -> torch.Tensor:
    device = next(net.parameters()).device
    return torch.cat([net(chunk.to(device)).cpu() for chunk in images.split(200)])


def train_one(name: str, args: argparse.Namespace, data, out: Path) -> tuple[Trainer, float]:
    widths = {k: v * args.width_scale if k.endswith("width") else v * args.resolution // RESOLUTION
              for k, v in MODELS[name].items()}  # progressive: longer stages at a higher resolution
    if name == "progressive" and args.stage_images:
        widths |= dict(stage_images=args.stage_images, fade_images=args.stage_images)
    settings = dict(data="shapes", resolution=args.resolution, channels=3, model=name, latent_dim=64,
                    batch_size=args.batch_size, ema_beta=0.999, max_minutes=args.minutes, log_every=100,
                    sample_every=10**9, checkpoint_every=10**9, device=args.device, precision="auto", seed=0, **widths)
    config = resolve_config(settings, images=len(data))  # msg/progressive/fastgan: their own defaults
    return train_for_budget(config, out, data)  # CPU: --minutes of this process's CPU time; Ctrl-C stops it whole


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="CPU minutes of training per architecture")
    parser.add_argument("--images", type=int, default=1000, help="training images (a small data set)")
    parser.add_argument("--heldout", type=int, default=1000, help="held-out real images = generated samples scored")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--grid", type=Path, default=None, help="write 6 samples per architecture to this PNG")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="cuda: --minutes are wall-clock")
    parser.add_argument("--resolution", type=int, default=RESOLUTION, choices=(128, 256))
    parser.add_argument("--width-scale", type=int, default=1, help="multiply every network's width")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--stage-images", type=int, default=0, help="progressive: images per stage and per fade")
    args = parser.parse_args()
    if args.device == "cpu":
        torch.set_num_threads(1)

    t0 = time.process_time()
    unit = "CPU s" if args.device == "cpu" else "GPU s"
    gpu = torch.cuda.get_device_name() if args.device == "cuda" else ""
    train_set = shapes(args.resolution, count=args.images, seed=0)
    heldout = from_uint8(shapes(args.resolution, count=args.heldout, seed=1).images)
    classifier_set = shapes(args.resolution, count=3000, seed=2)
    net = train_feature_net(from_uint8(classifier_set.images[:2500]), classifier_set.labels[:2500], device=args.device)
    with torch.no_grad():
        test = from_uint8(classifier_set.images[2500:])
        logits = net.head(features(net, test).to(args.device)).argmax(1).cpu()
        accuracy = (logits == classifier_set.labels[2500:]).float().mean().item()
    print(f"shape classifier (features for KID): held-out accuracy {accuracy:.1%} on 500 shapes; "
          f"data + classifier took {time.process_time() - t0:.0f} CPU s")
    real_features = features(net, heldout)

    rows = [("real shapes (training set)", "-", "-", "-", kid(features(net, from_uint8(train_set.images)),
                                                             real_features))]
    grid = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models.split(","):
            trainer, cpu_s = train_one(name, args, train_set, Path(tmp) / name)
            G = trainer.G_ema if trainer.G_ema is not None else trainer.G
            G.eval()
            with torch.no_grad():
                z = latents(args.heldout, trainer.config.latent_dim, seed=123).to(trainer.device)
                fake = generate(G, z, batch_size=100).float().cpu()
            params = sum(p.numel() for p in trainer.G.parameters()), sum(p.numel() for p in trainer.D.parameters())
            result = kid(features(net, fake.clamp(-1, 1)), real_features)
            rows.append((name, f"{params[0] / 1e6:.2f}M / {params[1] / 1e6:.2f}M", str(trainer.step),
                         f"{cpu_s:.0f}", result))
            grid.append(fake[:6])
            print(f"{name}: {trainer.step} steps in {cpu_s:.0f} {unit}, KID x1000 {result.mean * 1000:.2f}", flush=True)

    budget = "CPU min per model (1 thread)" if args.device == "cpu" else f"wall-clock min per model on {gpu}"
    print(f"\nshapes at {args.resolution} px, {args.images} training images, {args.minutes:g} {budget}, batch "
          f"{args.batch_size}, widths x{args.width_scale}, KID x1000 on subsets of {rows[0][4].subset_size} (± the "
          f"spread over subsets when they are smaller than the sets) against {args.heldout} held-out shapes\n")
    print(f"| model | params G / D | steps | {unit} | KID x1000 |")
    print("|---|---|---|---|---|")
    for name, params, steps, cpu_s, result in rows:
        spread = f" ± {result.std * 1000:.2f}" if result.subset_size < args.heldout else ""  # whole sets: no spread
        print(f"| {name} | {params} | {steps} | {cpu_s} | {result.mean * 1000:.2f}{spread} |")
    if args.grid is not None and grid:
        save_grid(args.grid, torch.cat(grid), nrow=6)
        print(f"\nsamples (one row per model, in table order): {args.grid}")


if __name__ == "__main__":
    main()
