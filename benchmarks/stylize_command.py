"""`ganforge stylize` as a whole command against a plain reference command: time to the reference's loss.

A user runs a command and waits for it, so both sides are timed as processes, start-up included (Python,
torch, building VGG19, loading the images and the weights, writing the result). The reference command is
the plain loop of benchmarks/style_transfer.py (full VGG19, fp32, NCHW, L-BFGS at the full size from the
content image); it runs `--reference-steps` steps and its saved result's loss is the bar. `ganforge stylize`
then runs with each `--steps` value in turn (its default coarse-to-fine levels: that many steps at the full
size, twice as many at each coarser one), and the smallest whose saved result scores at or below the bar gives
the ratio of wall times. Every result is scored from its saved PNG by the same fp32 evaluator at the full size.
Rounds alternate the commands so that both see the same load; times are medians over the rounds.

Without --weights the VGG19 weights are a fixed seeded random init of torchvision's layout and file size
(real weights cannot be downloaded here): timings are real, loss values are not VGG's.

    python benchmarks/stylize_command.py                       # 512 px, 20 reference steps, 3 rounds
    python benchmarks/stylize_command.py --size 256 --rounds 1 --steps 5   # a smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ganforge.images import from_uint8, to_uint8
from ganforge.style.gatys import load_image
from ganforge.style.vgg import random_vgg19_state

sys.path.insert(0, str(Path(__file__).resolve().parent))
from style_transfer import PlainGatys  # noqa: E402  (the plain loop, as benchmarks/style_transfer.py times it)


def reference_command(content: Path, style: Path, weights: Path, out: Path, size: int, steps: int,
                      threads: int) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "--run-reference", str(content), str(style), str(weights),
            str(out), "--size", str(size), "--reference-steps", str(steps), "--threads", str(threads)]


def ours_command(content: Path, style: Path, weights: Path, out: Path, size: int, steps: int,
                 threads: int) -> list[str]:
    return [sys.executable, "-m", "ganforge", "stylize", str(content), str(style), "-o", str(out), "--size",
            str(size), "--steps", str(steps), "--features", "vgg19", "--weights", str(weights), "--threads",
            str(threads), "--quiet"]


def run_reference(content: Path, style: Path, weights: Path, out: Path, size: int, steps: int) -> None:
    """The reference command's body: plain loop at the full size, the lowest-loss image saved as PNG."""
    state = torch.load(weights, weights_only=True)
    c, s = load_image(str(content), size), load_image(str(style), size)
    stepper = PlainGatys(state, c, s).stepper(c)
    for _ in range(steps):
        stepper.step()
    Image.fromarray(to_uint8(stepper.result())[0]).save(out)


def with_classifier(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The features plus torchvision's classifier keys (random, right shapes): a file of the real one's size
    (548 MB), so that both commands pay what reading the real file costs."""
    generator = torch.Generator().manual_seed(1)
    for index, (rows, cols) in {0: (4096, 512 * 7 * 7), 3: (4096, 4096), 6: (1000, 4096)}.items():
        state[f"classifier.{index}.weight"] = torch.randn(rows, cols, generator=generator) * 0.01
        state[f"classifier.{index}.bias"] = torch.zeros(rows)
    return state


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[:4])} ... failed: {(done.stderr or done.stdout)[-500:]}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--reference-steps", type=int, default=20)
    parser.add_argument("--steps", type=int, nargs="+", default=[5, 10, 20],
                        help="ganforge stylize --steps values tried, smallest first")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="both commands' thread count")
    parser.add_argument("--weights", type=Path, help="torchvision's vgg19-dcbb9e9d.pth (default: seeded random)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--run-reference", nargs=4, type=Path, metavar=("CONTENT", "STYLE", "WEIGHTS", "OUT"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.run_reference:
        run_reference(*args.run_reference, args.size, args.reference_steps)
        return

    from skimage import data  # sample photos shipped with scikit-image (the test extra)

    results: dict = {"size": args.size, "threads": args.threads, "reference_steps": args.reference_steps,
                     "load_before": os.getloadavg()[0], "rounds": []}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        content, style = root / "chelsea.png", root / "hubble.png"
        Image.fromarray(data.chelsea()).save(content)
        Image.fromarray(data.hubble_deep_field()).save(style)
        if args.weights:
            weights, note = args.weights, f"VGG19 weights from {args.weights}"
        else:
            weights, note = root / "vgg19-random.pth", "seeded random VGG19 weights: timings real, losses not VGG's"
            torch.save(with_classifier(random_vgg19_state(seed=0)), weights)
        results["note"] = note
        evaluator = PlainGatys(torch.load(weights, weights_only=True), load_image(str(content), args.size),
                               load_image(str(style), args.size))

        def score(path: Path) -> float:
            return evaluator.score(from_uint8(torch.from_numpy(np.array(Image.open(path).convert("RGB")))[None]))

        print(f"# {note}; {args.size} px, {args.threads} threads each, load average {os.getloadavg()[0]:.1f} on "
              f"{os.cpu_count()} CPUs", flush=True)
        times: dict[str, list[float]] = {"reference": [], **{f"ours {s}": [] for s in args.steps}}
        losses: dict[str, float] = {}
        for r in range(args.rounds):
            runs = [("reference", reference_command(content, style, weights, root / "reference.png", args.size,
                                                    args.reference_steps, args.threads), root / "reference.png")]
            runs += [(f"ours {s}", ours_command(content, style, weights, root / f"ours-{s}.png", args.size, s,
                                                args.threads), root / f"ours-{s}.png") for s in args.steps]
            if r % 2:
                runs.reverse()  # alternate the order so that a load drift hits both sides alike
            row = {}
            for name, command, out in runs:
                times[name].append(timed(command))
                if name not in losses:  # the same inputs and seed each round: the same result
                    losses[name] = score(out)
                row[name] = {"seconds": round(times[name][-1], 2), "loss": losses[name]}
            results["rounds"].append(row)
            print(f"round {r + 1}: " + ", ".join(f"{k} {v['seconds']:.1f} s (loss {v['loss']:.4g})"
                                                 for k, v in row.items()), flush=True)
        ref_time = statistics.median(times["reference"])
        bar = losses["reference"]
        reached = next((s for s in args.steps if losses[f"ours {s}"] <= bar), None)
        results.update(reference_seconds=ref_time, reference_loss=bar, load_after=os.getloadavg()[0],
                       ours={s: {"seconds": statistics.median(times[f"ours {s}"]), "loss": losses[f"ours {s}"]}
                             for s in args.steps})
        print(f"reference command, {args.reference_steps} steps at {args.size} px: {ref_time:.1f} s (median), "
              f"loss {bar:.4g}")
        for s in args.steps:
            o = results["ours"][s]
            print(f"ganforge stylize --steps {s}: {o['seconds']:.1f} s ({o['seconds'] / ref_time:.2f} of the "
                  f"reference's time), loss {o['loss']:.4g}{'  <- reaches the reference' if s == reached else ''}")
        if reached is None:
            print("no --steps value reached the reference's loss")
        else:
            results["time_fraction"] = results["ours"][reached]["seconds"] / ref_time
            print(f"time to the reference's loss: {results['time_fraction']:.2f} of its time "
                  f"({1 / results['time_fraction']:.2f}x)")
        print(f"# load average now {os.getloadavg()[0]:.1f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
