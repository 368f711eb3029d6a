"""Shared tiny fixtures: small models, few steps, fixed seeds, no network."""

from __future__ import annotations

import contextlib
import os

import pytest
import torch

from ganforge.config import TrainConfig

# A fixed thread count (ganforge only chooses one by timing without OMP_NUM_THREADS): each count rounds sums its
# own way, and the tests that compare runs bit for bit (resume, seeds) need the same count in both.
os.environ.setdefault("OMP_NUM_THREADS", "2")
torch.set_num_threads(2)


@pytest.fixture
def tiny_config() -> TrainConfig:
    """A DCGAN small enough that a few steps take well under a second."""
    return TrainConfig(data="digits", resolution=16, channels=1, latent_dim=8, g_width=8, d_width=8,
                       batch_size=8, total_steps=4, log_every=2, sample_every=2, checkpoint_every=2,
                       sample_count=4, precision="fp32", device="cpu", seed=0)


# --- shared by export / report / serve tests -----------------------------------------------------
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory: pytest.TempPathFactory):
    """A finished 4-step tiny DCGAN run with an EMA generator (config, metrics, samples, checkpoint)."""
    from ganforge.training.loop import train

    config = TrainConfig(data="digits", resolution=16, channels=1, latent_dim=8, g_width=8, d_width=8,
                         batch_size=8, total_steps=4, log_every=2, sample_every=2, checkpoint_every=2,
                         sample_count=4, precision="fp32", device="cpu", seed=0, ema_beta=0.9)
    return train(config, tmp_path_factory.mktemp("runs") / "tiny", quiet=True).out_dir


@pytest.fixture(scope="session")
def conditional_trained_run(tmp_path_factory: pytest.TempPathFactory):
    """A finished 2-step tiny class-conditional run (digits, 10 classes) with an EMA generator."""
    from ganforge.training.loop import train

    config = TrainConfig(data="digits", resolution=16, channels=1, latent_dim=8, g_width=4, d_width=4,
                         batch_size=8, total_steps=2, log_every=1, sample_every=2, checkpoint_every=2,
                         sample_count=10, precision="fp32", device="cpu", seed=0, ema_beta=0.9, conditional=True)
    return train(config, tmp_path_factory.mktemp("runs") / "cond", quiet=True).out_dir


@pytest.fixture(scope="session")
def pix2pix_trained_run(tmp_path_factory: pytest.TempPathFactory):
    """A finished 2-step tiny pix2pix run: edge maps -> digits, 16 px, one channel in and out."""
    from ganforge.training.loop import train

    config = TrainConfig(model="pix2pix", data="edges2digits", resolution=16, channels=1, g_width=4, d_width=4,
                         patch_size=16, batch_size=4, total_steps=2, log_every=1, sample_every=2,
                         checkpoint_every=2, sample_count=4, precision="fp32", device="cpu", seed=0)
    return train(config, tmp_path_factory.mktemp("runs") / "edges", quiet=True).out_dir


@pytest.fixture(scope="session")
def chromium():
    """Headless Debian chromium (or $GANFORGE_CHROMIUM) driven by Playwright; skips when either is missing."""
    import os
    import shutil
    from pathlib import Path

    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    executable = os.environ.get("GANFORGE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(executable).is_file():
        pytest.skip(f"chromium is not installed at {executable} (apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        except Exception as err:  # a broken install must skip, not fail, the browser tests
            pytest.skip(f"chromium did not start: {str(err).splitlines()[0][:200]}")
        yield browser
        browser.close()


# --- style transfer: tests never touch the network -----------------------------------------------
@pytest.fixture(autouse=True)
def offline_torch_hub(tmp_path_factory, monkeypatch):
    """An empty torch hub cache and a VGG19 download that fails as it does with no network."""
    import urllib.error

    monkeypatch.setenv("TORCH_HOME", str(tmp_path_factory.mktemp("torch_home")))

    def no_network(url: str, *args, **kwargs) -> None:
        raise urllib.error.URLError(f"no network in tests ({url})")

    monkeypatch.setattr("torch.hub.load_state_dict_from_url", no_network)


@pytest.fixture(scope="session")
def one_thread():
    """A context manager running tiny-tensor work on one thread: on a busy shared CPU, waking a second
    OpenMP thread for every small op made a 100-step tiny training 12x slower (111 s vs 9 s wall)."""

    @contextlib.contextmanager
    def scope():
        previous = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(previous)

    return scope


@pytest.fixture(scope="session")
def style_trained_run(tmp_path_factory: pytest.TempPathFactory):
    """A finished 4-step tiny style-based run (--model stylegan, 16 px digits) with an EMA generator."""
    from ganforge.config import resolve_config
    from ganforge.training.loop import train

    config = resolve_config(dict(model="stylegan", data="digits", resolution=16, channels=1, latent_dim=8, g_width=4,
                                 d_width=4, batch_size=8, total_steps=4, log_every=2, sample_every=4,
                                 checkpoint_every=4, sample_count=4, precision="fp32", device="cpu", seed=0,
                                 ema_beta=0.9))
    return train(config, tmp_path_factory.mktemp("runs") / "style", quiet=True).out_dir
