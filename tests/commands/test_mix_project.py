"""`ganforge mix`, `ganforge project`, and latents files in interpolate / mix; truncation around the mean w."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from ganforge.images import to_uint8
from ganforge.inference.projection import project
from ganforge.inference.sampling import latents, load_generator, sample_images

from helpers import run_cli


@pytest.fixture
def style_run(style_trained_run):
    return style_trained_run


def _png(path, image):
    Image.fromarray(to_uint8(image)[0][..., 0]).save(path)
    return path


def test_truncation_is_around_the_mean_w(style_run):
    loaded = load_generator(style_run)
    collapsed, _ = sample_images(loaded, 3, seed=1, truncation=0.0)
    torch.testing.assert_close(collapsed[0], collapsed[2])
    G = loaded.G
    with torch.no_grad():  # the mean w's image, not z = 0's
        torch.testing.assert_close(collapsed[:1], G.synthesis(G.ws(G.w_avg[None])))
    full, _ = sample_images(loaded, 3, seed=1)
    assert not torch.allclose(full[0], full[2])


def test_mix_writes_the_grid_and_refuses_other_models(style_run, trained_run, tmp_path, capsys):
    out = tmp_path / "mix.png"
    assert run_cli(["mix", str(style_run), "--rows", "2", "--cols", "3", "-o", str(out)], capsys)[0] == 0
    grid = np.asarray(Image.open(out))
    assert grid.shape[:2] == (3 * 18 + 2, 4 * 18 + 2)  # 16 px tiles, 2 px padding, a source row and column
    code, err = run_cli(["mix", str(trained_run), "-o", str(tmp_path / "m.png")], capsys)
    assert code == 2 and "style-based generator" in err and "Traceback" not in err
    code, err = run_cli(["mix", str(style_run), "--cutoff", "99", "-o", str(out)], capsys)
    assert code == 2 and "--cutoff must be between 1 and" in err


def test_projection_refinds_a_sample_far_better_than_a_random_latent(style_run):
    loaded = load_generator(style_run)
    G = loaded.G
    with torch.no_grad():
        target = G(latents(1, loaded.latent_dim, 123))
        random_error = F.mse_loss(G(latents(16, loaded.latent_dim, 7)), target.expand(16, -1, -1, -1)).item()
    result = project(G, target, steps=80, seed=0)
    assert result.latent.shape == (1, G.num_ws, G.w_dim) and np.isfinite(result.latent).all()
    assert result.pixel_error < 0.25 * random_error
    assert result.losses[-1] < result.losses[0]
    assert all(layer.noise.override is None for layer in G.synthesis.layers)  # the noise maps are handed back


def test_project_cli_writes_its_files_and_they_feed_interpolate_and_mix(style_run, tmp_path, capsys):
    loaded = load_generator(style_run)
    with torch.no_grad():
        photo = _png(tmp_path / "photo.png", loaded.G(latents(1, loaded.latent_dim, 5)))
    out = tmp_path / "proj"
    code, err = run_cli(["project", str(style_run), str(photo), "-o", str(out), "--steps", "20", "--space", "w+"],
                        capsys)
    assert code == 0, err
    assert {p.name for p in out.iterdir()} == {"reconstruction.png", "latent.npy", "projection.gif"}
    latent = np.load(out / "latent.npy", allow_pickle=False)
    assert latent.shape == (1, loaded.G.num_ws, loaded.G.w_dim) and latent.dtype == np.float32
    assert Image.open(out / "projection.gif").n_frames > 2
    gif = tmp_path / "walk.gif"
    code, err = run_cli(["interpolate", str(style_run), "-o", str(gif), "--latents", str(out / "latent.npy"),
                         "--points", "2", "--frames", "2", "--truncation", "0.7"], capsys)
    assert code == 0, err
    assert Image.open(gif).n_frames == 4
    code, err = run_cli(["mix", str(style_run), "-o", str(tmp_path / "mix.png"), "--latents", str(out / "latent.npy"),
                         "--cols", "2"], capsys)
    assert code == 0, err
    assert np.asarray(Image.open(tmp_path / "mix.png")).shape[:2] == (2 * 18 + 2, 3 * 18 + 2)  # one row: the photo


def test_dcgan_runs_project_by_optimising_z(trained_run, tmp_path, capsys):
    loaded = load_generator(trained_run)
    with torch.no_grad():
        photo = _png(tmp_path / "photo.png", loaded.G(latents(1, loaded.latent_dim, 3)))
    code, err = run_cli(["project", str(trained_run), str(photo), "-o", str(tmp_path / "out"), "--steps", "30"],
                        capsys)
    assert code == 0, err
    assert np.load(tmp_path / "out" / "latent.npy").shape == (1, loaded.latent_dim)
    code, err = run_cli(["interpolate", str(trained_run), "-o", str(tmp_path / "w.gif"), "--latents",
                         str(tmp_path / "out" / "latent.npy"), "--points", "2", "--frames", "1"], capsys)
    assert code == 0, err


@pytest.mark.parametrize("content,message", [
    (np.zeros((1, 3), np.float32), "do not fit this run"),
    (np.zeros((2, 8), np.int64), "must be floats"),
    (np.full((1, 8), np.nan, np.float32), "NaN or infinite"),
    (np.zeros((2000, 8), np.float32), "at most 1,024"),
    (np.array([{"a": 1}], dtype=object), "cannot read latents"),
    (b"not a numpy file", "cannot read latents"),
])
def test_bad_latents_files_get_one_line_errors(style_run, tmp_path, capsys, content, message):
    path = tmp_path / "bad.npy"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        np.save(path, content, allow_pickle=True)
    code, err = run_cli(["mix", str(style_run), "-o", str(tmp_path / "m.png"), "--latents", str(path)], capsys)
    assert code == 2 and message in err and str(path) in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_project_refuses_bad_inputs(style_run, tmp_path, capsys):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG not really")
    code, err = run_cli(["project", str(style_run), str(broken), "-o", str(tmp_path / "o")], capsys)
    assert code == 2 and str(broken) in err and "Traceback" not in err
    code, err = run_cli(["project", str(style_run), str(broken), "-o", str(tmp_path / "o.png")], capsys)
    assert code == 2 and "give a folder" in err
