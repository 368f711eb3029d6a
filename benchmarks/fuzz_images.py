"""Fuzz the image-folder decoder with mutated real image files.

Every format ganforge reads is written by PIL (several modes each, an animation, EXIF rotation,
16-bit), then mutated the way damaged downloads and broken disks mutate files: bit flips, bytes set
to boundary values, header fields overwritten, truncation, cut or repeated chunks, inserted junk.
Each case goes through `ganforge.data.folder.decode_image`. It must either return an image of the
requested shape or raise `BadImage` with a reason; anything else is a failure (the seeds, the mutations
and that check: `ganforge/reliability/fuzz.py`). A watchdog stops the run if one case takes longer than
--case-timeout seconds (a hang), and the case being decoded is kept in <work dir>/current-case.* so a
crash of the interpreter itself leaves its reproducer behind.

    python benchmarks/fuzz_images.py --cases 5000
"""

from __future__ import annotations

import argparse
import collections
import faulthandler
import random
import sys
import tempfile
import time
from pathlib import Path

from ganforge.reliability.fuzz import check_case, mutate, seed_images


def reason_kind(outcome: str) -> str:
    """Group skip reasons for the summary: 'skipped: unreadable (broken PNG file)' -> 'unreadable'."""
    return outcome.split(":", 1)[1].split("(")[0].strip() if outcome.startswith("skipped") else outcome


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--case-timeout", type=float, default=20.0, help="seconds before a case counts as a hang")
    parser.add_argument("--work-dir", type=Path, default=None, help="where cases are written (default: a temp dir)")
    args = parser.parse_args()

    seeds = seed_images()
    names = sorted(seeds)
    rng = random.Random(args.seed)
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="ganforge-fuzz-"))
    work.mkdir(parents=True, exist_ok=True)
    faulthandler.enable()
    outcomes: collections.Counter[str] = collections.Counter()
    per_format: collections.Counter[str] = collections.Counter()
    slowest, slowest_case, failures = 0.0, "", []
    start = time.perf_counter()
    for case in range(args.cases):
        name = names[case % len(names)]
        data = mutate(seeds[name], rng)
        path = work / f"current-case{Path(name).suffix}"  # the same name each time: a crash leaves this input
        path.write_bytes(data)
        resolution, channels = rng.choice([16, 32]), rng.choice([1, 3])
        faulthandler.dump_traceback_later(args.case_timeout, exit=True)  # a hang ends the run, with a traceback
        t0 = time.perf_counter()
        try:
            outcome = check_case(path, resolution, channels)
        except AssertionError as err:
            outcome = "failure"
            failures.append(str(err))
            (work / f"failure-{case:05d}-{name}").write_bytes(data)
        except Exception as err:  # noqa: BLE001 - an escaped exception is exactly what we look for
            outcome = "failure"
            failures.append(f"case {case} ({name}): {type(err).__name__}: {err}")
            (work / f"failure-{case:05d}-{name}").write_bytes(data)
        finally:
            faulthandler.cancel_dump_traceback_later()
        elapsed = time.perf_counter() - t0
        if elapsed > slowest:
            slowest, slowest_case = elapsed, f"case {case} ({name})"
        outcomes[reason_kind(outcome)] += 1
        per_format[f"{Path(name).suffix} {'ok' if outcome == 'ok' else 'not ok'}"] += 1
    total = time.perf_counter() - start
    print(f"fuzzed decode_image with {args.cases} mutated files from {len(names)} real seeds ({args.seed=})")
    for kind, count in outcomes.most_common():
        print(f"  {count:6d}  {kind}")
    print(f"slowest case {slowest * 1000:.0f} ms ({slowest_case}); total {total:.1f} s")
    print(f"crashes: 0, hangs: 0 (either would have ended the run before this line), failures: {len(failures)}")
    for line in failures[:20]:
        print("  " + line)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
