"""The web page under load: many browser sessions at once against `ganforge serve` on loopback.

    python benchmarks/serve_load.py                       # 30 sessions for 120 s (about 4 minutes in all)
    python benchmarks/serve_load.py --sessions 8 --seconds 20

Trains two tiny runs in a temporary folder (an unconditional DCGAN and a pix2pix, 16 px, a few steps), starts
`ganforge serve` on them in a process of its own, and first measures generate alone (one session, one request
at a time: the reference). Then SESSIONS sessions, each one browser talking the page's queue protocol (join,
then read its event stream), ask for work one request at a time with a short pause between:
`--stylize-sessions` of them stylise at the largest size the page allows, the others mix generate (16 or 64
images), translate (an upload through pix2pix), judge (an upload through D) and the monitor's refresh.
After SECONDS every session leaves at once (its requests in flight are dropped, as when tabs close).

Prints per kind: requests answered, busy answers (queue full), errors, latency p50 / p95 / max (from the
first byte sent, uploads included, to the answer); the server's peak memory (VmHWM) and its CPU use while
the sessions left (near zero when a dropped stylisation really stopped). Exits 1 when a request failed or
generate's p95 is above --generate-ceiling.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

MONITOR_TAB = "Training monitor"
MIX = {"generate": 0.4, "translate": 0.2, "judge": 0.2, "monitor": 0.2}  # what the other sessions ask for
PAUSE_S = (0.2, 1.0)  # between one answer and the next request: a person clicking quickly


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    busy: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    errors: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    dropped: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # in flight when the sessions left


class Busy(Exception):
    pass


class Session:
    """One browser: a session id, and one request at a time through the page's queue."""

    def __init__(self, http: httpx.AsyncClient, base: str, fn_index: dict[str, int]) -> None:
        self.http, self.base, self.fn_index = http, base, fn_index
        self.session = uuid.uuid4().hex[:12]

    async def upload(self, name: str, content: bytes) -> dict:
        response = await self.http.post(f"{self.base}/gradio_api/upload", files={"files": (name, content)})
        return {"path": response.raise_for_status().json()[0], "orig_name": name, "meta": {"_type": "gradio.FileData"}}

    async def call(self, api_name: str, data: list) -> None:
        """Returns when answered; Busy when the queue is full; RuntimeError when the answer is an error."""
        body = {"data": data, "fn_index": self.fn_index[api_name], "session_hash": self.session,
                "event_data": None, "trigger_id": None}
        response = await self.http.post(f"{self.base}/gradio_api/queue/join", json=body)
        if response.status_code == 503:
            raise Busy
        event_id = response.raise_for_status().json()["event_id"]
        url = f"{self.base}/gradio_api/queue/data"
        async with self.http.stream("GET", url, params={"session_hash": self.session}) as stream:
            async for line in stream.aiter_lines():
                if not line.startswith("data:"):
                    continue
                message = json.loads(line[5:])
                if message.get("msg") == "process_completed" and message.get("event_id") == event_id:
                    if not message.get("success"):
                        raise RuntimeError(str(message.get("output", {}).get("error"))[:200])
                    return
        raise RuntimeError("the event stream closed before the answer")


def png(width: int, height: int, seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


async def one_request(session: Session, kind: str, rng: random.Random, pictures: dict[str, bytes],
                      style_steps: int) -> None:
    if kind == "generate":
        await session.call("generate", ["tiny", rng.randrange(10**6), rng.choice([16, 64]), 1.0, True, None])
    elif kind == "judge":
        await session.call("judge", ["tiny", await session.upload("photo.png", pictures["photo"])])
    elif kind == "translate":
        await session.call("translate_upload", ["edges", await session.upload("edges.png", pictures["edges"]), True])
    elif kind == "monitor":
        await session.call("monitor", [rng.choice(["tiny", "edges"]), MONITOR_TAB])
    else:  # the largest stylisation the page accepts
        from ganforge.serve.stylize import MAX_STYLE_SIZE

        content = await session.upload("content.png", pictures["content"])
        style = await session.upload("style.png", pictures["style"])
        await session.call("stylize", [content, style, 1.0, MAX_STYLE_SIZE, style_steps, False])


async def user(session: Session, kinds: list[str], weights: list[float], deadline: float, tally: Tally,
               seed: int, pictures: dict[str, bytes], style_steps: int) -> None:
    rng = random.Random(seed)
    await asyncio.sleep(rng.uniform(0, 2))  # people do not all click in the same millisecond
    while time.monotonic() < deadline:
        kind = rng.choices(kinds, weights)[0]
        start = time.monotonic()
        try:
            await asyncio.wait_for(one_request(session, kind, rng, pictures, style_steps),
                                   timeout=max(0.01, deadline - start))
            tally.latencies[kind].append(time.monotonic() - start)
        except Busy:
            tally.busy[kind] += 1
        except (asyncio.TimeoutError, TimeoutError):
            tally.dropped[kind] += 1
            return
        except Exception as err:  # noqa: BLE001 - every failure is counted and shown, none stops the run
            tally.errors[kind].append(f"{type(err).__name__}: {err}"[:200])
        await asyncio.sleep(rng.uniform(*PAUSE_S))


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def proc_status(pid: int, key: str) -> int:
    """A /proc/PID/status field in KiB (VmRSS, VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def train_runs(root: Path) -> list[Path]:
    from ganforge.config import TrainConfig
    from ganforge.training.loop import train

    common = dict(resolution=16, channels=1, batch_size=8, log_every=2, sample_every=4, checkpoint_every=4,
                  sample_count=4, precision="fp32", device="cpu", seed=0)
    tiny = TrainConfig(data="digits", latent_dim=8, g_width=8, d_width=8, total_steps=8, ema_beta=0.9, **common)
    edges = TrainConfig(model="pix2pix", data="edges2digits", g_width=4, d_width=4, patch_size=16, total_steps=4,
                        **common)
    return [train(tiny, root / "tiny", quiet=True).out_dir, train(edges, root / "edges", quiet=True).out_dir]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def wait_for_page(base: str, server: subprocess.Popen) -> dict[str, int]:
    async with httpx.AsyncClient(timeout=5) as http:
        for _ in range(600):
            if server.poll() is not None:
                sys.exit(f"the server exited with code {server.returncode}")
            try:
                config = (await http.get(f"{base}/config")).raise_for_status().json()
                return {d["api_name"]: d["id"] for d in config["dependencies"] if d.get("api_name")}
            except httpx.HTTPError:
                await asyncio.sleep(0.5)
    sys.exit("the page did not come up within 5 minutes")


async def reference(base: str, fn_index: dict[str, int], count: int = 20) -> list[float]:
    """generate alone: one session, one request at a time."""
    async with httpx.AsyncClient(timeout=120) as http:
        session, rng, times = Session(http, base, fn_index), random.Random(0), []
        for _ in range(count):
            start = time.monotonic()
            await session.call("generate", ["tiny", rng.randrange(10**6), rng.choice([16, 64]), 1.0, True, None])
            times.append(time.monotonic() - start)
    return times


async def load(base: str, fn_index: dict[str, int], args: argparse.Namespace, tally: Tally) -> None:
    pictures = {"photo": png(256, 256, 1), "edges": png(128, 96, 2), "content": png(800, 600, 3),
                "style": png(640, 640, 4)}
    limits = httpx.Limits(max_connections=4 * args.sessions + 8, max_keepalive_connections=2 * args.sessions)
    deadline = time.monotonic() + args.seconds
    async with httpx.AsyncClient(timeout=httpx.Timeout(60, read=None), limits=limits) as http:
        users = []
        for i in range(args.sessions):
            kinds, weights = (["stylize"], [1.0]) if i < args.stylize_sessions else (list(MIX), list(MIX.values()))
            session = Session(http, base, fn_index)
            users.append(user(session, kinds, weights, deadline, tally, i, pictures, args.style_steps))
        await asyncio.gather(*users)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=30, help="browser sessions at once (default 30)")
    parser.add_argument("--seconds", type=float, default=120, help="how long they keep asking (default 120)")
    parser.add_argument("--stylize-sessions", type=int, default=2,
                        help="sessions that stylise at the largest size (default 2)")
    parser.add_argument("--style-steps", type=int, default=100, help="stylize steps per scale (default 100)")
    parser.add_argument("--generate-ceiling", type=float, default=5.0,
                        help="the most generate's p95 latency may be, in seconds (default 5)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="serve-load-") as tmp:
        root = Path(tmp)
        print(f"training two tiny runs in {root} ...", flush=True)
        runs = train_runs(root)
        port, base = free_port(), ""
        base = f"http://127.0.0.1:{port}"
        env = {**os.environ, "TORCH_HOME": str(root / "torch_home"), "GRADIO_ANALYTICS_ENABLED": "False"}
        server = subprocess.Popen([sys.executable, "-m", "ganforge", "serve", *map(str, runs), "--port", str(port)],
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            fn_index = asyncio.run(wait_for_page(base, server))
            rss_idle = proc_status(server.pid, "VmRSS")
            cpu_idle_start = cpu_seconds(server.pid)
            time.sleep(5)
            cpu_idle = (cpu_seconds(server.pid) - cpu_idle_start) / 5
            alone = asyncio.run(reference(base, fn_index))
            print(f"generate alone (1 session, 20 requests): p50 {percentile(alone, 50) * 1000:.0f} ms, "
                  f"p95 {percentile(alone, 95) * 1000:.0f} ms", flush=True)

            tally, samples = Tally(), []
            load_before, cpu_before = os.getloadavg(), cpu_seconds(server.pid)
            print(f"{args.sessions} sessions ({args.stylize_sessions} stylising at the largest size) for "
                  f"{args.seconds:g} s ...", flush=True)

            async def run_and_sample() -> None:
                task = asyncio.ensure_future(load(base, fn_index, args, tally))
                while not task.done():
                    samples.append(proc_status(server.pid, "VmRSS"))
                    await asyncio.wait({task}, timeout=0.5)
                await task

            started, own_cpu = time.monotonic(), time.process_time()
            asyncio.run(run_and_sample())
            took, own_cpu = time.monotonic() - started, time.process_time() - own_cpu
            cpu_load = cpu_seconds(server.pid) - cpu_before
            load_after = os.getloadavg()
            time.sleep(3)  # the dropped requests' last step, if any
            cpu_idle_start = cpu_seconds(server.pid)
            time.sleep(5)
            cpu_after = (cpu_seconds(server.pid) - cpu_idle_start) / 5
            peak, rss_end = proc_status(server.pid, "VmHWM"), proc_status(server.pid, "VmRSS")
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
    return report(args, tally, alone, took, rss_idle, max(samples or [0]), peak, rss_end,
                  (cpu_idle, cpu_load, cpu_after, own_cpu), (load_before, load_after))


def report(args, tally: Tally, alone: list[float], took: float, rss_idle: int, rss_max: int, peak: int,
           rss_end: int, cpu: tuple[float, float, float, float], loads: tuple) -> int:
    cpu_idle, cpu_load, cpu_after, own_cpu = cpu
    (load_before, load_after) = loads
    print(f"\n{'kind':<10} {'answered':>8} {'busy':>5} {'errors':>6} {'dropped':>7} {'p50 s':>7} {'p95 s':>7} "
          f"{'max s':>7}")
    kinds = sorted(set(tally.latencies) | set(tally.busy) | set(tally.errors) | set(tally.dropped))
    for kind in kinds:
        times = tally.latencies[kind]
        print(f"{kind:<10} {len(times):>8} {tally.busy[kind]:>5} {len(tally.errors[kind]):>6} "
              f"{tally.dropped[kind]:>7} {percentile(times, 50):>7.2f} {percentile(times, 95):>7.2f} "
              f"{max(times, default=float('nan')):>7.2f}")
    answered = sum(len(t) for t in tally.latencies.values())
    print(f"\n{answered} answered in {took:.0f} s ({answered / took:.1f}/s); generate p50 under load / alone: "
          f"{percentile(tally.latencies['generate'], 50) / percentile(alone, 50):.1f}x")
    print(f"server memory: {rss_idle / 1024:.0f} MiB before the load, {rss_max / 1024:.0f} MiB at most while sampled "
          f"every 0.5 s, peak (VmHWM) {peak / 1024:.0f} MiB, {rss_end / 1024:.0f} MiB after")
    print(f"server CPU: {cpu_idle * 100:.0f}% of a core idle before the load (5 s); {cpu_load:.0f} CPU-s during "
          f"the load ({cpu_load / took:.2f} cores on average); {cpu_after * 100:.0f}% of a core in the 5 s starting "
          f"3 s after every session left")
    print(f"load generator (this process): {own_cpu:.0f} CPU-s during the load")
    print(f"machine load average (1 min): {load_before[0]:.1f} before, {load_after[0]:.1f} after "
          f"({os.cpu_count()} cores, shared)")
    for kind, messages in tally.errors.items():
        for message in sorted(set(messages))[:5]:
            print(f"error ({kind}): {message}")
    failed = sum(len(m) for m in tally.errors.values())
    p95 = percentile(tally.latencies["generate"], 95)
    print(f"generate p95 {p95:.2f} s vs ceiling {args.generate_ceiling:g} s: "
          f"{'OK' if p95 <= args.generate_ceiling else 'ABOVE'}; errors: {failed}")
    return 0 if failed == 0 and p95 <= args.generate_ceiling else 1


if __name__ == "__main__":
    sys.exit(main())
