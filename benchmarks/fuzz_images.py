"""Fuzz the image-folder decoder with mutated real image files.

Every format ganforge reads is written by PIL (several modes each, an animation, EXIF rotation,
16-bit), then mutated the way damaged downloads and broken disks mutate files: bit flips, bytes set
to boundary values, header fields overwritten, truncation, cut or repeated chunks, inserted junk.
Each case goes through `ganforge.data.folder.decode_image`. It must either return an image of the
requested shape or raise `BadImage` with a reason; anything else is a failure. A watchdog stops the
run if one case takes longer than --case-timeout seconds (a hang), and the case being decoded is
kept in <work dir>/current-case.* so a crash of the interpreter itself leaves its reproducer behind.

    python benchmarks/fuzz_images.py --cases 5000
"""

from __future__ import annotations

import argparse
import collections
import faulthandler
import io
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from ganforge.data.folder import BadImage, decode_image

SEED_SIZE = (23, 17)  # small and odd-sized: fast to decode, exercises the resize-and-crop path


def seed_images() -> dict[str, bytes]:
    """Real files in every format and the modes that matter, written by PIL: {name: bytes}."""
    rng = np.random.default_rng(0)
    w, h = SEED_SIZE
    rgb = Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), "RGB")
    rgba = Image.fromarray(rng.integers(0, 256, (h, w, 4), dtype=np.uint8), "RGBA")
    grey = rgb.convert("L")
    deep = Image.fromarray(rng.integers(0, 65536, (h, w), dtype=np.uint16))  # 16-bit greyscale
    rotated = rgb.copy()
    exif = rotated.getexif()
    exif[0x0112] = 6  # EXIF orientation: rotate on load
    out: dict[str, bytes] = {}

    def add(name: str, image: Image.Image, fmt: str, **options: object) -> None:
        buffer = io.BytesIO()
        image.save(buffer, fmt, **options)
        out[name] = buffer.getvalue()

    add("rgb.png", rgb, "PNG")
    add("rgba.png", rgba, "PNG")
    add("palette.png", rgb.quantize(16), "PNG")
    add("grey16.png", deep, "PNG")
    add("rgb.jpg", rgb, "JPEG", quality=90)
    add("progressive.jpg", rgb, "JPEG", progressive=True)
    add("exif-rotated.jpg", rotated, "JPEG", exif=exif)
    add("grey.jpg", grey, "JPEG")
    add("rgb.bmp", rgb, "BMP")
    add("palette.bmp", rgb.quantize(8), "BMP")
    frames = [rgb.quantize(8), rgb.rotate(90).quantize(8)]
    add("animated.gif", frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50)
    add("rgb.webp", rgb, "WEBP", quality=80)
    add("rgba.webp", rgba, "WEBP", lossless=True)
    add("rgb.tif", rgb, "TIFF")
    add("deflate.tif", rgb, "TIFF", compression="tiff_deflate")
    add("grey16.tif", deep, "TIFF")
    return out


BOUNDARY_BYTES = [0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF]


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One to four random damages; half of them aimed at the first 64 bytes, where headers live."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        if not buf:
            break
        n = len(buf)
        pos = rng.randrange(min(n, 64)) if rng.random() < 0.5 else rng.randrange(n)
        kind = rng.randrange(7)
        if kind == 0:  # flip one bit
            buf[pos] ^= 1 << rng.randrange(8)
        elif kind == 1:  # boundary value
            buf[pos] = rng.choice(BOUNDARY_BYTES)
        elif kind == 2:  # a header field overwritten with a large or zero 16/32-bit number
            width = rng.choice([2, 4])
            value = rng.choice([0, 1, 0xFFFF, 0x7FFF, 0xFFFFFFFF, 0x7FFFFFFF, rng.randrange(1 << (8 * width))])
            buf[pos:pos + width] = (value & ((1 << (8 * width)) - 1)).to_bytes(width, rng.choice(["big", "little"]))
        elif kind == 3:  # truncate
            del buf[rng.randrange(n):]
        elif kind == 4:  # cut a chunk out
            del buf[pos:pos + rng.randint(1, 64)]
        elif kind == 5:  # repeat a chunk
            chunk = buf[pos:pos + rng.randint(1, 64)]
            buf[pos:pos] = chunk * rng.randint(1, 8)
        else:  # insert junk
            buf[pos:pos] = rng.randbytes(rng.randint(1, 32))
    return bytes(buf)


def check_case(path: Path, resolution: int, channels: int) -> str:
    """'ok' or 'skipped: <reason>'; raises AssertionError for anything decode_image must never do."""
    try:
        arr = decode_image(path, resolution, channels)
    except BadImage as err:
        reason = str(err)
        assert reason.strip() and "\n" not in reason, f"{path.name}: BadImage without a one-line reason: {reason!r}"
        return f"skipped: {reason}"
    assert arr.shape == (resolution, resolution, channels), f"{path.name}: shape {arr.shape}"
    assert arr.dtype == np.uint8, f"{path.name}: dtype {arr.dtype}"
    return "ok"


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
