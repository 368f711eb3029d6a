"""Style-transfer speed: ganforge's Gatys step against a plain reference, measured in the same run.

The reference is written the simplest way: torchvision's full VGG19 feature stack (all 37 layers),
fp32, contiguous NCHW, frozen weights, L-BFGS with the PyTorch tutorial's loop (clamping pixels after
each step; like ours it returns the lowest-loss image it saw). Both sides use the same images, the same
loss definition (ganforge.style.losses, same layers and weights) and the same number of steps; every
final image is saved as uint8 and scored by the same fp32 evaluator. The contenders are stepped in turn,
one step each, so that all of them run under the same load on a shared machine.

Prints, for each size: median seconds per step and the ratio, and the losses; per lever (truncation,
channels_last, bf16 autocast) its own speed-up of the reference step at the largest size; and the
library's coarse-to-fine stylize() against the reference's --steps steps at the largest size.

Without --weights the VGG19 weights are a fixed seeded random init of the standard layout (real
weights cannot be downloaded here). Timings do not depend on the values; the loss figures do.

    nice -n 10 python benchmarks/style_transfer.py            # ~15 min on 2 idle CPU cores
    nice -n 10 python benchmarks/style_transfer.py --quick    # a smoke run at 128 and 256 px
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ganforge.images import from_uint8, to_uint8
from ganforge.style import StyleConfig, stylize
from ganforge.style.gatys import PixelOptimiser, auto_levels, build_objective, load_image
from ganforge.style.losses import content_loss, gram, style_loss, tv_loss
from ganforge.style.networks import FEATURE_NETS, build_features
from ganforge.style.vgg import IMAGENET_MEAN, IMAGENET_STD, LAYER_NAMES, LAYOUT, random_vgg19_state

SPEC = FEATURE_NETS.get("vgg19")
CONTENT_LAYERS, STYLE_LAYERS = list(SPEC.content_layers), list(SPEC.style_layers)
WEIGHTS = (1.0, 10.0, 1.0)  # content, style, TV: StyleConfig's defaults
WARMUP = 2  # steps left out of the per-step medians (first-call allocations, L-BFGS's first step)


class PlainVGG19(nn.Module):
    """torchvision's `vgg19().features`, built the same way (an nn.Sequential of 37 layers)."""

    def __init__(self, state: dict[str, torch.Tensor], truncate: bool = False) -> None:
        super().__init__()
        layers, channels = [], 3
        for item in LAYOUT:
            if item == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(channels, item, 3, padding=1), nn.ReLU()]
                channels = item
        self.features = nn.Sequential(*layers)
        self.load_state_dict({k: v for k, v in state.items() if k.startswith("features.")})
        self.wanted = {LAYER_NAMES.index(name): name for name in CONTENT_LAYERS + STYLE_LAYERS}
        if truncate:  # the one lever that changes the network: stop after the last layer used
            self.features = self.features[: max(self.wanted) + 1]
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        x = ((x + 1) / 2 - self.mean) / self.std
        out = {}
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in self.wanted:
                out[self.wanted[index]] = x
        return out


class PlainGatys:
    """The reference loop; the levers can be switched on one at a time to measure each."""

    def __init__(self, state, content, style, truncate=False, channels_last=False, bf16=False) -> None:
        self.net = PlainVGG19(state, truncate).eval().requires_grad_(False)
        self.channels_last, self.bf16 = channels_last, bf16
        if channels_last:
            self.net = self.net.to(memory_format=torch.channels_last)
        with torch.no_grad():
            self.content_targets = {k: v.float() for k, v in self._features(content).items() if k in CONTENT_LAYERS}
            self.style_targets = {k: gram(v) for k, v in self._features(style).items() if k in STYLE_LAYERS}

    def _features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            return self.net(x)

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        f = self._features(x)
        content = sum(content_loss(f[n], self.content_targets[n]) for n in CONTENT_LAYERS) / len(CONTENT_LAYERS)
        style = sum(style_loss(f[n], self.style_targets[n]) for n in STYLE_LAYERS) / len(STYLE_LAYERS)
        return WEIGHTS[0] * content + WEIGHTS[1] * style + WEIGHTS[2] * tv_loss(x)

    def stepper(self, start: torch.Tensor) -> PlainStepper:
        return PlainStepper(self, start)

    @torch.no_grad()
    def score(self, x: torch.Tensor) -> float:
        return self.loss(x).item()


class PlainStepper:
    """The tutorial's loop, one L-BFGS step (one loss evaluation) per call. Like ganforge, it keeps the
    lowest-loss image seen, so that both sides run the same algorithm and differ only in the levers."""

    def __init__(self, gatys: PlainGatys, start: torch.Tensor) -> None:
        self.image = start.clone().requires_grad_(True)
        self.opt = torch.optim.LBFGS([self.image], lr=1.0, max_iter=1, history_size=100)
        self.gatys = gatys
        self.best_loss, self.best_image = float("inf"), start.clone()

    def step(self) -> float:
        losses = []

        def closure():
            self.opt.zero_grad()
            loss = self.gatys.loss(self.image)
            losses.append(loss.item())
            if losses[-1] < self.best_loss:
                self.best_loss, self.best_image = losses[-1], self.image.detach().clone()
            loss.backward()
            return loss

        self.opt.step(closure)
        with torch.no_grad():
            self.image.clamp_(-1, 1)
        return losses[0]

    def result(self) -> torch.Tensor:
        final = self.gatys.score(self.image.detach())
        return self.image.detach().clone() if final < self.best_loss else self.best_image


def ours(weights_file: Path, content: torch.Tensor, style: torch.Tensor) -> PixelOptimiser:
    """ganforge's single-scale step: truncated network, channels_last, bf16 autocast, fp32 Grams."""
    net = build_features("vgg19", CONTENT_LAYERS + STYLE_LAYERS, str(weights_file))
    net = net.to(memory_format=torch.channels_last)
    objective = build_objective(net, content, [style], {n: 1 / len(CONTENT_LAYERS) for n in CONTENT_LAYERS},
                                {n: 1 / len(STYLE_LAYERS) for n in STYLE_LAYERS}, [1.0], WEIGHTS,
                                torch.device("cpu"), "bf16")
    return PixelOptimiser(objective, content, "lbfgs")


def interleaved(steppers: dict, steps: dict[str, int]) -> dict[str, dict[str, list[float]]]:
    """Step every contender in turn, so that all of them see the same load on a shared machine.

    Returns per contender: wall seconds, process CPU seconds and loss (before the step) of each step.
    """
    record = {name: {"wall": [], "cpu": [], "loss": []} for name in steppers}
    for i in range(max(steps.values())):
        for name, stepper in steppers.items():
            if i >= steps[name]:
                continue
            wall, cpu = time.perf_counter(), time.process_time()
            loss = stepper.step()
            record[name]["wall"].append(time.perf_counter() - wall)
            record[name]["cpu"].append(time.process_time() - cpu)
            record[name]["loss"].append(loss if isinstance(loss, float) else loss["total"])
    return record


def per_step(times: list[float]) -> float:
    """Median seconds per step, leaving out the warm-up steps."""
    return statistics.median(times[WARMUP:] if len(times) > WARMUP + 2 else times)


class CoarseToFineStepper:
    """The library's own stylize() (levels size/4, size/2, size), paused after every step so that it can
    be interleaved with the reference. It runs in a worker thread that waits for each `step()` call;
    everything it does (loading, targets, upsampling, the final image) is timed as part of some step."""

    def __init__(self, config: StyleConfig, content_array, style_array) -> None:
        self.go, self.paused = threading.Semaphore(0), threading.Semaphore(0)
        self.image: torch.Tensor | None = None  # what stylize() returns, as a tensor
        self.finished = False

        def on_step(info) -> None:
            self.paused.release()
            self.go.acquire()

        def work() -> None:
            self.go.acquire()
            try:
                self.image = from_uint8(np.array(stylize(content_array, style_array, config, on_step=on_step))[None])
            finally:
                self.finished = True
                self.paused.release()

        threading.Thread(target=work, daemon=True).start()

    def step(self) -> float:
        self.go.release()
        self.paused.acquire()
        return float("nan")


def quantised(image: torch.Tensor) -> torch.Tensor:
    """The image as saved (uint8), so that every contender is scored on what a user gets."""
    return from_uint8(to_uint8(image))


def compare(size: int, args, state, weights_file: Path, content_array, style_array, largest: bool) -> dict:
    """Reference and ours side by side at one size; at the largest also the levers and coarse to fine."""
    content, style = load_image(content_array, size), load_image(style_array, size)
    plain = PlainGatys(state, content, style)
    steppers = {"reference": plain.stepper(content), "ours": ours(weights_file, content, style)}
    steps = {"reference": args.steps, "ours": args.steps}
    if largest:
        for name, kw in {"truncation": dict(truncate=True), "channels_last": dict(channels_last=True),
                         "bf16": dict(bf16=True)}.items():  # each lever alone, on the reference code
            steppers[name] = PlainGatys(state, content, style, **kw).stepper(content)
            steps[name] = args.lever_steps + WARMUP
        config = StyleConfig(size=size, steps=args.c2f_steps, features="vgg19", weights=str(weights_file),
                             device="cpu", precision="bf16")
        steppers["coarse to fine"] = CoarseToFineStepper(config, content_array, style_array)
        steps["coarse to fine"] = args.c2f_steps * auto_levels(size, config.min_scale_size) + 1  # +1: finishing
    rec = interleaved(steppers, steps)

    ref_wall, ref_cpu = per_step(rec["reference"]["wall"]), per_step(rec["reference"]["cpu"])
    early = min(50, args.steps)
    row = {"hw": list(content.shape[-2:]), "steps": args.steps, "start_loss": rec["reference"]["loss"][0],
           "ref_s_per_step": ref_wall, "ours_s_per_step": per_step(rec["ours"]["wall"]),
           "speedup_wall": ref_wall / per_step(rec["ours"]["wall"]),
           "speedup_cpu": ref_cpu / per_step(rec["ours"]["cpu"]),
           "ref_loss": plain.score(quantised(steppers["reference"].result())),
           "ours_loss": plain.score(quantised(steppers["ours"].result())),
           # lowest loss seen in the first steps, as each side computed it (ours in bf16)
           f"ref_loss_{early}_steps": min(rec["reference"]["loss"][:early]),
           f"ours_loss_{early}_steps": min(rec["ours"]["loss"][:early])}
    print(f"{size:4d} px {row['hw']}: reference {ref_wall:.3f} s/step, ours {row['ours_s_per_step']:.3f} s/step -> "
          f"{row['speedup_wall']:.2f}x wall ({row['speedup_cpu']:.2f}x CPU time); loss after {args.steps} steps "
          f"(fp32 scorer; start {row['start_loss']:.4g}): reference {row['ref_loss']:.4g}, ours {row['ours_loss']:.4g} "
          f"(after {early}: {row[f'ref_loss_{early}_steps']:.4g}, {row[f'ours_loss_{early}_steps']:.4g})", flush=True)
    if not largest:
        return row
    row["levers_speedup"] = {name: {"wall": per_step(rec["reference"]["wall"][: steps[name]]) / per_step(rec[name][
        "wall"]), "cpu": per_step(rec["reference"]["cpu"][: steps[name]]) / per_step(rec[name]["cpu"])}
                             for name in ("truncation", "channels_last", "bf16")}
    print("     each lever alone on the reference (speed-up per step, wall / CPU time): "
          + ", ".join(f"{k} {v['wall']:.2f}x / {v['cpu']:.2f}x" for k, v in row["levers_speedup"].items()))
    c2f_stepper = steppers["coarse to fine"]
    assert c2f_stepper.finished and c2f_stepper.image is not None, "coarse to fine did not finish"
    c2f = {"ref_steps": args.steps, "ref_seconds": sum(rec["reference"]["wall"]),
           "ref_cpu_seconds": sum(rec["reference"]["cpu"]), "ref_loss": row["ref_loss"],
           "steps_per_level": args.c2f_steps, "seconds": sum(rec["coarse to fine"]["wall"]),
           "cpu_seconds": sum(rec["coarse to fine"]["cpu"]), "loss": plain.score(c2f_stepper.image)}
    c2f["time_fraction"] = c2f["seconds"] / c2f["ref_seconds"]
    c2f["cpu_fraction"] = c2f["cpu_seconds"] / c2f["ref_cpu_seconds"]
    row["coarse_to_fine"] = c2f
    print(f"     coarse to fine ({args.c2f_steps} steps at each level up to {size} px): loss {c2f['loss']:.4g} in "
          f"{c2f['seconds']:.0f} s; reference after {c2f['ref_steps']} steps: loss {c2f['ref_loss']:.4g} in "
          f"{c2f['ref_seconds']:.0f} s -> {c2f['time_fraction']:.2f} of its time "
          f"({c2f['cpu_fraction']:.2f} of its CPU time)", flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--steps", type=int, default=300, help="steps of the reference and of ours at each size")
    parser.add_argument("--lever-steps", type=int, default=6)
    parser.add_argument("--c2f-steps", type=int, default=100, help="steps per level of the coarse-to-fine run")
    parser.add_argument("--weights", type=Path, help="torchvision's vgg19-dcbb9e9d.pth (default: seeded random)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="smoke run: 128 and 256 px, few steps")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.steps, args.lever_steps, args.c2f_steps = [128, 256], 30, 4, 10
    torch.set_num_threads(args.threads)
    from skimage import data  # the test extra; sample photos shipped with scikit-image

    content_array, style_array = data.chelsea(), data.hubble_deep_field()
    with tempfile.TemporaryDirectory() as tmp:
        if args.weights:
            weights_file, note = args.weights, f"VGG19 weights from {args.weights}"
        else:
            weights_file = Path(tmp) / "vgg19-random.pth"
            torch.save(random_vgg19_state(seed=0), weights_file)
            note = "VGG19 with seeded random weights (standard layout): timings are real, loss values are not VGG's"
        state = torch.load(weights_file, weights_only=True)
        started = time.perf_counter()
        print(f"# {note}; torch {torch.__version__}, {torch.get_num_threads()} threads, load average "
              f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        results = {"note": note, "threads": args.threads, "load_before": os.getloadavg()[0], "sizes": {}}
        for size in args.sizes:
            results["sizes"][size] = compare(size, args, state, weights_file, content_array, style_array,
                                             size == max(args.sizes))
        results["load_after"], results["seconds"] = os.getloadavg()[0], time.perf_counter() - started
        print(f"# {results['seconds']:.0f} s in all; load average now {results['load_after']:.1f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
