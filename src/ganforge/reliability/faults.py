"""Crash-safety campaign: kill `ganforge train` at random moments, resume, and check nothing is lost.

Each round starts the real CLI in a subprocess and SIGKILLs it, in turn: after a random delay from
launch (anywhere, start-up included), while a checkpoint write is under way (a temp file appears in
checkpoints/; a temp file left behind after the kill proves the kill landed mid-write), and at a
random point 1 to 2 checkpoint intervals into training. After every kill the harness checks, from
the files alone:

* the newest intact checkpoint loads (the same fallback `--resume` uses) and holds finite weights;
* the step went back by at most the checkpoint interval (progress is read from metrics.jsonl);
* the resumed process reports resuming from exactly that checkpoint.

Then SIGTERM and SIGINT at random moments must stop the run with exit code 130 and a checkpoint at
the last finished step (nothing lost). Finally the run is resumed to the end and compared with an
uninterrupted run of the same config: the final weights should be identical, because a resume
restores data order, noise and optimiser state exactly; metrics.jsonl must hold each step once.

The long run is `python benchmarks/fault_injection.py --kills 20`; tests run a short campaign.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ganforge import cli
from ganforge.checkpoint import load_newest_intact, verify_checkpoint
from ganforge.data.builtin import render_shapes
from ganforge.errors import GanforgeError
from ganforge.images import save_png
from ganforge.inference.sampling import load_generator
from ganforge.training.metrics_log import read_metrics

CHECKPOINT_EVERY = 5
TRAIN_FLAGS = ["--resolution", "16", "--channels", "3", "--latent-dim", "16", "--g-width", "16", "--d-width", "16",
               "--batch-size", "16", "--log-every", "1", "--checkpoint-every", str(CHECKPOINT_EVERY),
               "--sample-every", "1000000", "--precision", "fp32", "--device", "cpu", "--seed", "0", "--quiet"]
THREADS = 2  # fixed thread count, so that the comparison with an uninterrupted run can be exact
ENDLESS = 10**9  # step limit while killing; the last resume sets the real end with --steps


@dataclass
class Campaign:
    kills: int = 0
    kills_mid_write: int = 0  # a temp file was left behind: the kill landed inside a checkpoint write
    kills_at_startup: int = 0  # before the first checkpoint existed
    graceful_stops: int = 0
    resumes: int = 0
    steps_lost: list[int] = field(default_factory=list)  # progress minus the step resumed from, per fault
    final_step: int = 0
    max_weight_difference: float | None = None  # vs the uninterrupted run
    failures: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lost = max(self.steps_lost, default=0)
        diff = "not compared" if self.max_weight_difference is None else f"{self.max_weight_difference:g}"
        return (f"faults injected: {self.kills + self.graceful_stops} ({self.kills} SIGKILL, of which "
                f"{self.kills_mid_write} inside a checkpoint write and {self.kills_at_startup} before the first "
                f"checkpoint; {self.graceful_stops} SIGTERM/SIGINT), resumes: {self.resumes}, "
                f"most steps lost to one fault: {lost} (allowed: {CHECKPOINT_EVERY}), final step: {self.final_step}, "
                f"final weights vs uninterrupted run: max |difference| {diff}, failures: {len(self.failures)}")


def _command(run_dir: Path, resume: bool, steps: int) -> list[str]:
    """The CLI call; the image folder sits beside the run folder (see write_images)."""
    data = ["--data", str(run_dir.parent / "images")]
    where = ["--resume", str(run_dir)] if resume else ["--out", str(run_dir), *data, *TRAIN_FLAGS]
    return [sys.executable, "-m", "ganforge", "train", *where, "--steps", str(steps)]


def write_images(folder: Path, count: int = 64) -> None:
    """A small image folder to train on: the real folder loader, and no data set library to import."""
    images, _ = render_shapes(count, 16, seed=0)
    for i, image in enumerate(images):
        save_png(folder / f"{i:03d}.png", image)


def _launch(run_dir: Path, resume: bool, steps: int, log: Path) -> subprocess.Popen:
    handle = open(log, "w")  # noqa: SIM115 - closed by _finish
    env = {**os.environ, "OMP_NUM_THREADS": str(THREADS)}  # the same arithmetic as the in-process reference
    proc = subprocess.Popen(_command(run_dir, resume, steps), stdout=handle, stderr=subprocess.STDOUT, env=env)
    proc.log_handle = handle  # type: ignore[attr-defined]
    return proc


def _finish(proc: subprocess.Popen, timeout: float = 300) -> int:
    try:
        return proc.wait(timeout=timeout)
    finally:
        proc.log_handle.close()  # type: ignore[attr-defined]


def _temp_files(ckpt_dir: Path) -> list[str]:
    try:
        return [n for n in os.listdir(ckpt_dir) if n.endswith(".tmp")]
    except FileNotFoundError:
        return []


def _progress(run_dir: Path) -> int:
    """The last step whose record reached metrics.jsonl (log_every is 1): how far training got."""
    return max((int(r["step"]) for r in read_metrics(run_dir / "metrics.jsonl")), default=0)


def _wait_for_writes(proc: subprocess.Popen, ckpt_dir: Path, writes: int, timeout: float) -> bool:
    """Return as soon as the `writes`-th checkpoint temp file appears; False if the process ends first."""
    seen, before, deadline = 0, set(), time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        now = set(_temp_files(ckpt_dir))
        seen += len(now - before)
        before = now
        if seen >= writes:
            return True
        time.sleep(0.0005)
    return False


def _wait_for_progress(proc: subprocess.Popen, run_dir: Path, beyond: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if _progress(run_dir) > beyond:
            return True
        time.sleep(0.05)
    return False


def _saved_state(run_dir: Path) -> dict | None:
    """What --resume would continue from, checked to be readable and finite; None before any checkpoint."""
    ckpt_dir = run_dir / "checkpoints"
    if not any(ckpt_dir.glob("*.pt")):
        return None
    _, state = load_newest_intact(ckpt_dir, warn=lambda message: None)
    for name in ("G", "D"):
        for key, tensor in state[name].items():
            if tensor.is_floating_point() and not torch.isfinite(tensor).all():
                raise GanforgeError(f"checkpoint at step {state['step']}: {name}.{key} is not finite")
    return state


def _resumed_from(log: Path) -> int | None:
    match = re.search(r"resuming from step (\d+)", log.read_text())
    return int(match.group(1)) if match else None


def run_campaign(work: Path, kills: int, graceful: int, seed: int = 0, max_delay: float = 8.0,
                 compare: bool = True, say=print) -> Campaign:
    rng = random.Random(seed)
    run_dir, ckpt_dir = work / "run", work / "run" / "checkpoints"
    write_images(work / "images")
    result = Campaign()
    expected_resume: int | None = None
    resume = False

    def fail(message: str) -> None:
        result.failures.append(message)
        say(f"  FAIL: {message}")

    def check_after_fault(fault: str) -> None:
        nonlocal expected_resume, resume
        progress = _progress(run_dir)
        try:
            state = _saved_state(run_dir)
        except GanforgeError as err:
            fail(f"after {fault}: no intact checkpoint: {err}")
            return
        saved = int(state["step"]) if state is not None else 0
        if state is None:
            result.kills_at_startup += 1
        lost = progress - saved
        result.steps_lost.append(lost)
        if lost > CHECKPOINT_EVERY or lost < 0:
            fail(f"after {fault}: training had reached step {progress} but the checkpoint holds step {saved}")
        expected_resume = saved if state is not None else None
        resume = state is not None or (run_dir / "config.json").is_file()
        where = f"newest intact checkpoint step {saved}" if state is not None else "no checkpoint yet"
        say(f"  {fault}: progress {progress}, {where}, lost {lost}")

    def start(n: int) -> tuple[subprocess.Popen, Path]:
        log = work / f"attempt-{n:02d}.log"
        if resume:
            result.resumes += 1
        return _launch(run_dir, resume, ENDLESS, log), log

    def check_resume_line(log: Path) -> None:
        if expected_resume is not None:
            reported = _resumed_from(log)
            if reported is not None and reported != expected_resume:
                fail(f"{log.name}: resumed from step {reported}, but the newest intact checkpoint is {expected_resume}")

    attempt = 0
    for k in range(kills):
        proc, log = start(attempt)
        attempt += 1
        mode = ("time", "write", "step")[k % 3]
        if mode == "time":  # anywhere, start-up included
            time.sleep(rng.uniform(0.0, max_delay))
        elif mode == "write":  # inside the n-th checkpoint write after training got going
            writes = rng.randint(1, 6)
            if not (_wait_for_progress(proc, run_dir, _progress(run_dir), timeout=300)
                    and _wait_for_writes(proc, ckpt_dir, writes, timeout=300)):
                fail(f"{log.name}: the process ended (code {proc.poll()}) before checkpoint write {writes}")
        else:  # somewhere in a training step, 1 to 2 checkpoint intervals in
            target = _progress(run_dir) + rng.randint(1, 2 * CHECKPOINT_EVERY)
            if not _wait_for_progress(proc, run_dir, target - 1, timeout=300):
                fail(f"{log.name}: the process ended (code {proc.poll()}) before step {target}")
            time.sleep(rng.uniform(0.0, 0.2))
        proc.send_signal(signal.SIGKILL)
        _finish(proc)
        result.kills += 1
        left = [name for name in _temp_files(ckpt_dir) if name.endswith(f".{proc.pid}.tmp")]
        result.kills_mid_write += bool(left)
        check_resume_line(log)
        check_after_fault(f"SIGKILL {k + 1}" + (f" (mid-write: {', '.join(left)})" if left else ""))

    for g in range(graceful):
        sig = (signal.SIGTERM, signal.SIGINT)[g % 2]
        proc, log = start(attempt)
        attempt += 1
        if not _wait_for_progress(proc, run_dir, _progress(run_dir) + rng.randint(1, 12), timeout=120):
            fail(f"{log.name}: no training progress before {sig.name}")
        proc.send_signal(sig)
        code = _finish(proc)
        result.graceful_stops += 1
        check_resume_line(log)
        if code != 130:
            fail(f"{sig.name}: exit code {code}, expected 130 ({log.name}: {log.read_text()[-300:]!r})")
        progress = _progress(run_dir)
        check_after_fault(sig.name)
        if expected_resume != progress:
            fail(f"{sig.name}: stopped at step {progress} but saved step {expected_resume}: progress was lost")

    final_steps = _progress(run_dir) + 2 * CHECKPOINT_EVERY + 3  # ends between checkpoints: a final save too
    log = work / "final.log"
    result.resumes += resume
    proc = _launch(run_dir, resume, final_steps, log)
    code = _finish(proc)
    check_resume_line(log)
    if code != 0:
        fail(f"final resume: exit code {code}: {log.read_text()[-400:]}")
        return result
    result.final_step = final = load_generator(run_dir).step
    if final != final_steps:
        fail(f"final checkpoint is at step {final}, expected {final_steps}")
    steps = [int(r["step"]) for r in read_metrics(run_dir / "metrics.jsonl") if "event" not in r]
    if steps != list(range(1, final_steps + 1)):
        fail(f"metrics.jsonl steps are not 1..{final_steps} once each (got {len(steps)} records)")
    for path in ckpt_dir.glob("*.pt"):
        try:
            verify_checkpoint(path, always=True)
        except GanforgeError as err:
            fail(f"final check: {err}")
    if _temp_files(ckpt_dir):
        fail(f"temp files left after the final run: {_temp_files(ckpt_dir)}")
    if compare:  # the same CLI, in this process: one process start-up fewer
        reference = work / "uninterrupted"
        threads = torch.get_num_threads()
        torch.set_num_threads(THREADS)
        try:
            code = cli.main(_command(reference, False, final_steps)[3:])
        finally:
            torch.set_num_threads(threads)
        if code != 0:
            fail("the uninterrupted reference run failed")
        else:
            a, b = (torch.load(d / "checkpoints" / "latest.pt", weights_only=True) for d in (run_dir, reference))
            result.max_weight_difference = max((a[n][k].float() - b[n][k].float()).abs().max().item()
                                               for n in ("G", "D") for k in a[n] if a[n][k].is_floating_point())
    return result
