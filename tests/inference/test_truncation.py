"""The truncation trick: latents scaled toward the prior's mean."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganforge.cli import main
from ganforge.errors import GanforgeError
from ganforge.inference.sampling import truncate


def test_truncate_scales_toward_the_mean():
    z = torch.randn(5, 3)
    assert torch.equal(truncate(z, 1.0), z)
    assert torch.allclose(truncate(z, 0.5), z / 2)
    assert torch.equal(truncate(z, 0.0), torch.zeros_like(z))
    center = torch.ones(3)
    assert torch.allclose(truncate(z, 0.25, center), 1 + 0.25 * (z - 1))
    for bad in (-0.1, 1.1, float("nan")):
        with pytest.raises(GanforgeError, match="--truncation"):
            truncate(z, bad)


def test_sample_cli_truncation(trained_run, tmp_path, capsys):
    full, none = tmp_path / "full.npy", tmp_path / "none.npy"
    assert main(["sample", str(trained_run), "-n", "3", "-o", str(full)]) == 0
    assert main(["sample", str(trained_run), "-n", "3", "-o", str(none), "--truncation", "0"]) == 0
    images, collapsed = np.load(full), np.load(none)
    assert not np.array_equal(images[0], images[1])
    assert np.array_equal(collapsed[0], collapsed[1]) and np.array_equal(collapsed[1], collapsed[2])
    assert main(["sample", str(trained_run), "-n", "3", "-o", str(none), "--truncation", "2"]) == 2
    assert "--truncation must be a number at least 0 and at most 1" in capsys.readouterr().err
