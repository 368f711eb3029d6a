"""Projection finds what G learned: images like its training folder reconstruct better than another folder's."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from ganforge.config import resolve_config
from ganforge.inference.projection import project
from ganforge.inference.sampling import load_generator
from ganforge.training.loop import train

SIZE = 16


def _save_folder(folder, images):
    folder.mkdir()
    for i, image in enumerate(images):
        Image.fromarray(image.astype(np.uint8) * 255).save(folder / f"{i}.png")
    return sorted(folder.glob("*.png"))


def _discs(rng, n):
    yy, xx = np.mgrid[:SIZE, :SIZE]
    return [(xx - rng.uniform(4, 12)) ** 2 + (yy - rng.uniform(4, 12)) ** 2 < rng.uniform(2.5, 5) ** 2
            for _ in range(n)]


def _stripes(rng, n):
    yy, xx = np.mgrid[:SIZE, :SIZE]
    angles, periods = rng.uniform(0, np.pi, n), rng.uniform(3, 6, n)
    return [np.sin((xx * np.cos(a) + yy * np.sin(a)) * 2 * np.pi / p) > 0 for a, p in zip(angles, periods)]


def _train(data, out, steps):
    config = resolve_config(dict(model="stylegan", data=str(data), resolution=SIZE, channels=1, latent_dim=16,
                                 g_width=8, d_width=8, batch_size=16, total_steps=steps, log_every=steps,
                                 sample_every=steps, checkpoint_every=steps, sample_count=4, precision="fp32",
                                 device="cpu", seed=0, ema_beta=0.99))
    return load_generator(train(config, out, quiet=True).out_dir).G


def _errors(G, paths):
    targets = [torch.from_numpy(np.asarray(Image.open(p), dtype=np.float32) / 127.5 - 1)[None, None] for p in paths]
    return np.array([project(G, t, steps=60, seed=0).pixel_error for t in targets])


def test_training_images_reconstruct_better_than_another_folders(tmp_path):
    rng = np.random.default_rng(0)
    discs = _save_folder(tmp_path / "discs", _discs(rng, 64))
    stripes = _save_folder(tmp_path / "stripes", _stripes(rng, 3))
    own_paths = discs[:3]
    trained = _train(tmp_path / "discs", tmp_path / "trained", steps=80)
    untrained = _train(tmp_path / "discs", tmp_path / "untrained", steps=1)
    own, other = _errors(trained, own_paths), _errors(trained, stripes)
    assert own.max() < other.min()
    assert own.mean() < other.mean() / 4
    # the gap is learned, not only that stripes are harder to draw: one step of training leaves it far smaller
    own_before, other_before = _errors(untrained, own_paths), _errors(untrained, stripes)
    assert other.mean() / own.mean() > 2 * other_before.mean() / own_before.mean()
