"""Fine-tuning (`--init-from`) against training from scratch, in equal CPU time, on 100 images of a new folder.

    sudo apt-get install tuxpaint-stamps-default      # Debian's Tux Paint stamps: ~800 drawings, 17 categories
    python benchmarks/finetune.py --out /tmp/finetune                     # pretrain once, then both arms per seed
    python benchmarks/finetune.py --out /tmp/finetune --table             # the table of what has finished

The stamps are split by category into two groups that share no category: the source group (animals, symbols,
seasonal and the small categories) pretrains one model; the target group (food, town, vehicles, plants, household)
gives the new folder: 100 images, 20 per category, the rest held out. Each seed then trains the same recipe on the
100 images (32 px unless --resolution) for the same CPU time (one thread; the budget counts CPU seconds) twice:
from scratch, and from the one pretrained model (`--init-from`, fresh optimisers). Both are scored by the EMA G's
KID x 1000 between 500 samples and the held-out target images, in the features of a small classifier trained on the
100 target images and their categories only (metrics/data_classifier.py). The floor is the KID of the 100 real
training images. Results are appended to OUT/results.jsonl, so an interrupted benchmark picks up where it was.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import time
from pathlib import Path

import torch

from ganforge.config import resolve_config
from ganforge.data import load_dataset
from ganforge.errors import GanforgeError
from ganforge.images import save_grid, to_uint8
from ganforge.inference.sampling import generate, latents, load_generator
from ganforge.metrics.data_classifier import train_data_classifier
from ganforge.metrics.features import extract_features, uint8_batches
from ganforge.metrics.kid import kid
from ganforge.runtime import torch_threads
from ganforge.training.loop import Trainer

TUXPAINT = Path("/usr/share/tuxpaint/stamps")
TARGET = ("food", "town", "vehicles", "plants", "household")  # the new folder's categories; the rest pretrain
PER_CATEGORY = 20  # 5 x 20 = the 100 fine-tuning images
RECIPE = dict(preset="plain", loss="hinge", spectral_norm=True, d_batchnorm=False, ema_beta=0.999, lr_g=4e-4,
              lr_d=4e-4, beta1=0.0, beta2=0.99, g_width=32, d_width=32, augment="ada", checkpoint_every=100_000,
              sample_every=100_000)
SAMPLES, SAMPLE_SEED = 500, 1234


def _link(files: list[Path], folder: Path) -> Path:
    if not folder.exists():
        for f in files:
            rel = f.relative_to(TUXPAINT)
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            (folder / rel).symlink_to(f)
    return folder


def split(out: Path) -> tuple[Path, Path, Path]:
    """(source folder, 100-image target folder, held-out target folder), as folders of links."""
    if not TUXPAINT.is_dir():
        raise GanforgeError(f"{TUXPAINT}: not found; install it with `sudo apt-get install tuxpaint-stamps-default`")
    files = sorted(p for p in TUXPAINT.rglob("*.png") if len(p.relative_to(TUXPAINT).parts) > 1)
    category = {f: f.relative_to(TUXPAINT).parts[0] for f in files}
    source = [f for f in files if category[f] not in TARGET]
    tune, held = [], []
    for name in TARGET:
        members = [f for f in files if category[f] == name]
        step = len(members) / PER_CATEGORY
        chosen = {members[int(i * step)] for i in range(PER_CATEGORY)}  # spread over the category
        tune += sorted(chosen)
        held += [f for f in members if f not in chosen]
    return (_link(source, out / "data" / "source"), _link(tune, out / "data" / "target-100"),
            _link(held, out / "data" / "target-heldout"))


def train(data: Path, run_dir: Path, seed: int, minutes: float, resolution: int, init_from: Path | None = None) -> dict:
    settings = {**RECIPE, "data": str(data), "resolution": resolution, "seed": seed, "max_minutes": minutes}
    if init_from is not None:
        settings["init_from"] = str(init_from)
    config = resolve_config(settings)
    if run_dir.exists():  # an interrupted run: start it again
        shutil.rmtree(run_dir)
    with torch_threads(1):
        trainer = Trainer(config, run_dir, quiet=True)
        trainer.clock = time.process_time  # the budget is CPU time: fair on a machine shared with other work
        result = trainer.run()
    if result.status == "interrupted":
        raise KeyboardInterrupt
    return dict(steps=result.step)


class TargetSpace:
    """The target folder's own classifier features, the held-out features and the floor."""

    def __init__(self, tune: Path, held: Path, resolution: int) -> None:
        train_set = load_dataset(str(tune), resolution, 3, quiet=True)
        heldout = load_dataset(str(held), resolution, 3, quiet=True)
        trained = train_data_classifier(train_set, heldout, epochs=60, seed=0)
        self.extractor = trained.extractor
        self.heldout = self.features(heldout.images)
        self.floor = self.kid(self.features(train_set.images))
        self.note = (f"target: {len(train_set)} training / {len(heldout)} held-out images; classifier accuracy "
                     f"{trained.train_accuracy:.0%} train, {trained.heldout_accuracy:.0%} held-out; floor KID x1000 "
                     f"(the 100 real training images) {self.floor:.2f}")

    def features(self, images_uint8: torch.Tensor) -> torch.Tensor:
        return extract_features(self.extractor, uint8_batches(images_uint8)).features

    def kid(self, fake_features: torch.Tensor) -> float:
        size = min(len(self.heldout), len(fake_features))
        return 1000 * kid(self.heldout, fake_features, subsets=50, subset_size=size).mean

    def score(self, run_dir: Path) -> float:
        loaded = load_generator(run_dir)  # the EMA generator
        samples = generate(loaded.G, latents(SAMPLES, loaded.latent_dim, SAMPLE_SEED), batch_size=250)
        save_grid(run_dir / "grid.png", samples[:64], nrow=8)
        return self.kid(self.features(torch.from_numpy(to_uint8(samples))))


def read_results(out: Path) -> list[dict]:
    path = out / "results.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


def table(out: Path) -> str:
    rows = read_results(out)
    lines = ["| start | seeds | steps | KID x1000 (mean ± sd) | per seed |", "| --- | --- | --- | --- | --- |"]
    for arm in ("scratch", "init-from"):
        got = [r for r in rows if r["arm"] == arm]
        if not got:
            continue
        kids = [r["kid"] for r in got]
        sd = f" ± {statistics.stdev(kids):.2f}" if len(kids) > 1 else ""
        lines.append(f"| {arm} | {len(got)} | {statistics.mean(r['steps'] for r in got):.0f} | "
                     f"{statistics.mean(kids):.2f}{sd} | {', '.join(f'{k:.2f}' for k in kids)} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--pretrain-minutes", type=float, default=3.0, help="CPU minutes on the source group")
    parser.add_argument("--minutes", type=float, default=2.0, help="CPU minutes of each arm on the 100 images")
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--table", action="store_true", help="print the table of finished runs and stop")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.table:
        print(table(args.out))
        return
    source, tune, held = split(args.out)
    pretrained = args.out / "runs" / "pretrained"
    if not (pretrained / "checkpoints" / "latest.pt").is_file():
        steps = train(source, pretrained, 0, args.pretrain_minutes, args.resolution)
        print(json.dumps({"pretrained": steps}), flush=True)
    with torch_threads(1):
        space = TargetSpace(tune, held, args.resolution)
    print(space.note, flush=True)
    (args.out / "notes.txt").write_text(space.note + "\n")
    done = {(r["arm"], r["seed"]) for r in read_results(args.out)}
    for seed in args.seeds:
        for arm in ("scratch", "init-from"):
            if (arm, seed) in done:
                continue
            run_dir = args.out / "runs" / f"{arm}-seed{seed}"
            record = dict(arm=arm, seed=seed, minutes=args.minutes,
                          **train(tune, run_dir, seed, args.minutes, args.resolution,
                                   pretrained if arm == "init-from" else None))
            with torch_threads(1):
                record["kid"] = space.score(run_dir)
            print(json.dumps(record), flush=True)
            with open(args.out / "results.jsonl", "a") as handle:
                handle.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
