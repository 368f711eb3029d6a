"""Bad input: mutated real image files never crash or hang the loader; each one is skipped with a reason.

The long run is `python benchmarks/fuzz_images.py --cases 5000`; this is its short form (the same seeds and
mutations: ganforge/reliability/fuzz.py), driven by hypothesis so that a failure shrinks to a small reproducer.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ganforge.data.folder import BadImage, decode_image, load_image_folder
from ganforge.errors import GanforgeError
from ganforge.reliability import fuzz

pytestmark = pytest.mark.reliability

SEEDS = fuzz.seed_images()


def test_every_seed_image_decodes() -> None:
    """The seeds are good files: what the mutations break was working before."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        for name, data in SEEDS.items():
            path = Path(tmp) / name
            path.write_bytes(data)
            assert fuzz.check_case(path, 16, 3) == "ok", name


@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(name=st.sampled_from(sorted(SEEDS)), rng=st.randoms(use_true_random=False),
       resolution=st.sampled_from([16, 32]), channels=st.sampled_from([1, 3]))
def test_mutated_images_decode_or_are_skipped_with_a_reason(tmp_path_factory, name, rng, resolution, channels) -> None:
    path = tmp_path_factory.mktemp("fuzz") / name
    path.write_bytes(fuzz.mutate(SEEDS[name], rng))
    outcome = fuzz.check_case(path, resolution, channels)  # raises on anything but an image or a BadImage
    assert outcome == "ok" or outcome.startswith("skipped: ")


def test_folder_of_damaged_files_skips_each_with_one_warning(tmp_path: Path) -> None:
    import random

    rng = random.Random(0)
    good = {f"good-{name}": data for name, data in SEEDS.items()}
    bad = {"empty.png": b"", "text.jpg": b"hello", "truncated.png": SEEDS["rgb.png"][:40],
           "eps-named.png": b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"}
    for i in range(30):
        name = sorted(SEEDS)[i % len(SEEDS)]
        bad[f"mutated-{i:02d}-{name}"] = fuzz.mutate(SEEDS[name], rng)
    for name, data in {**good, **bad}.items():
        (tmp_path / name).write_bytes(data)
    warnings: list[str] = []
    dataset = load_image_folder(tmp_path, 16, 3, warn=warnings.append)
    per_file = [w for w in warnings if w.startswith("warning: skipping ")]
    skipped = {Path(w.split("warning: skipping ", 1)[1].split(": ", 1)[0]).name for w in per_file}
    assert len(per_file) == len(skipped), "one warning per skipped file"
    assert all(": " in w.split(str(tmp_path), 1)[1] and "\n" not in w for w in per_file), "each with a reason"
    assert {"empty.png", "text.jpg", "truncated.png", "eps-named.png"} <= skipped
    assert not skipped & set(good), "a good file was skipped"
    assert len(dataset) == len(good) + len(bad) - len(skipped)
    assert f"skipped {len(skipped)} of {len(good) + len(bad)} files" in warnings[-1]


def test_folder_with_only_broken_files_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(b"not a png")
    with pytest.raises(GanforgeError, match="none of the 1 image files could be read"):
        load_image_folder(tmp_path, 16, 3, warn=lambda message: None)


def test_other_formats_are_refused_whatever_the_name(tmp_path: Path) -> None:
    """PIL would sniff content and open e.g. EPS (via Ghostscript) or PSD; only the listed decoders may run."""
    from PIL import Image

    path = tmp_path / "photo.png"
    Image.new("RGB", (20, 20)).save(path, "PPM")
    with pytest.raises(BadImage, match="not an image in a format ganforge reads"):
        decode_image(path, 16, 3)
