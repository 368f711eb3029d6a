"""Things worth telling the user while training (a skipped update, a problem the doctor found).

Each event goes to the console (above the progress bar) and into metrics.jsonl as a record with
an `event` key, so a run's history shows when and why it happened."""

from __future__ import annotations

from dataclasses import dataclass

from tqdm import tqdm

from ganforge.training.metrics_log import MetricsLog


@dataclass(frozen=True)
class Event:
    step: int
    kind: str  # slash-namespaced: "balance/skip_d", "doctor/collapse", ...
    message: str  # plain words, with a suggested remedy where there is one
    console: bool = True  # False: metrics.jsonl only (for frequent, routine events)


def emit(events: list[Event], log: MetricsLog, quiet: bool = False) -> None:
    for event in events:
        log.write({"step": event.step, "event": event.kind, "message": event.message})
        if event.console and not quiet:
            tqdm.write(f"[step {event.step}] {event.message}")
