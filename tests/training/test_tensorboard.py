"""--tensorboard: the events TensorBoard itself reads back hold the run's scalars, grids and histograms."""

from __future__ import annotations

import dataclasses
import json
import sys

import pytest

from ganforge.errors import GanforgeError
from ganforge.training.loop import train


def test_events_read_back_with_tensorboards_reader(tiny_config, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = train(dataclasses.replace(tiny_config, tensorboard=True), tmp_path / "run", quiet=True).out_dir
    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"scalars": 0, "images": 0,
                                                                      "histograms": 0}).Reload()
    tags = events.Tags()
    logged = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    for key in ("loss/D", "loss/G", "D/real_prob", "D/fake_prob"):
        assert [e.step for e in events.Scalars(key)] == [r["step"] for r in logged] == [2, 4]
        assert [e.value for e in events.Scalars(key)] == pytest.approx([r[key] for r in logged], rel=1e-6)
    assert [e.step for e in events.Images("samples")] == [0, 2, 4]
    assert events.Images("samples")[-1].width == 38  # 2x2 grid of 16 px images, 2 px padding
    assert "G/net.0.weight" in tags["histograms"] and any(t.startswith("D/") for t in tags["histograms"])


def test_resume_continues_the_event_history_without_repeats(tiny_config, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "run"
    train(dataclasses.replace(tiny_config, tensorboard=True, total_steps=6), out, quiet=True)
    # as if the run had crashed after the step-4 checkpoint: roll back to it, then resume to step 6
    (out / "checkpoints" / "step-0000004.pt").replace(out / "checkpoints" / "latest.pt")
    (out / "checkpoints" / "step-0000004.pt.sha256").replace(out / "checkpoints" / "latest.pt.sha256")
    train(dataclasses.replace(tiny_config, total_steps=6), out, resume=True, quiet=True)
    events = EventAccumulator(str(out / "tensorboard"), size_guidance={"scalars": 0}).Reload()
    logged = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [e.step for e in events.Scalars("loss/D")] == [r["step"] for r in logged] == [2, 4, 6]
    assert [e.value for e in events.Scalars("loss/D")] == pytest.approx([r["loss/D"] for r in logged], rel=1e-6)


def test_missing_extra_is_a_clear_error(tiny_config, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # as if tensorboard were not installed
    with pytest.raises(GanforgeError, match=r"pip install 'ganforge\[tensorboard\]'"):
        train(dataclasses.replace(tiny_config, tensorboard=True), tmp_path / "run", quiet=True)
