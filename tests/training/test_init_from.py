"""--init-from: a new run starts from another run's G, D and EMA weights, with fresh optimisers and counters;
networks that do not fit are refused in one line naming the file and the first tensor that differs."""

from dataclasses import replace

import pytest
import torch

from ganforge.checkpoint import load_checkpoint
from ganforge.errors import GanforgeError
from ganforge.training.loop import Trainer

from helpers import run_cli


def _same(module, weights) -> bool:
    return all(torch.equal(value, weights[key]) for key, value in module.state_dict().items())


def test_init_from_copies_weights_and_starts_fresh(trained_run, tiny_config, tmp_path):
    saved = load_checkpoint(trained_run)
    config = replace(tiny_config, data="shapes", ema_beta=0.9, init_from=str(trained_run))
    trainer = Trainer(config, tmp_path / "tuned", quiet=True)
    assert _same(trainer.G, saved["G"]) and _same(trainer.D, saved["D"]) and _same(trainer.G_ema, saved["G_ema"])
    assert trainer.step == 0 and not trainer.opt_G.state and not trainer.opt_D.state
    result = trainer.run()
    assert result.step == 4  # the new run's own length, counted from 0
    assert not _same(trainer.G, saved["G"])  # and it trained
    written = load_checkpoint(result.out_dir)
    assert written["config"] and '"init_from"' in written["config"]


def test_init_from_a_checkpoint_file_through_the_cli(trained_run, tmp_path, capsys):
    checkpoint = trained_run / "checkpoints" / "latest.pt"
    code, err = run_cli(["train", "--data", "digits", "--resolution", "16", "--channels", "1", "--latent-dim", "8",
                         "--g-width", "8", "--d-width", "8", "--batch-size", "8", "--steps", "1", "--precision", "fp32",
                         "--ema-beta", "0.9", "--init-from", str(checkpoint), "--out", str(tmp_path / "r")], capsys)
    assert code == 0, err
    assert f"starting from the weights of {checkpoint}" in err


@pytest.mark.parametrize("change, named", [
    (dict(g_width=16), "its G does not fit this run's"),
    (dict(d_width=16), "its D does not fit this run's"),
    (dict(latent_dim=4), "its G does not fit this run's"),
])
def test_mismatched_shapes_are_refused_in_one_line(trained_run, tiny_config, tmp_path, change, named):
    config = replace(tiny_config, ema_beta=0.9, init_from=str(trained_run), **change)
    with pytest.raises(GanforgeError) as caught:
        Trainer(config, tmp_path / "r", quiet=True)
    message = str(caught.value)
    assert message.startswith(f"--init-from {trained_run / 'checkpoints' / 'latest.pt'}: {named}")
    assert " is (" in message and "\n" not in message  # the first differing tensor, with both shapes
    assert not (tmp_path / "r").exists()  # a refused run leaves nothing behind


def test_mismatched_shapes_through_the_cli_exit_2(trained_run, tmp_path, capsys):
    code, err = run_cli(["train", "--data", "digits", "--resolution", "32", "--channels", "1", "--latent-dim", "8",
                         "--g-width", "8", "--d-width", "8", "--steps", "1", "--ema-beta", "0.9",
                         "--init-from", str(trained_run), "--out", str(tmp_path / "r")], capsys)
    assert code == 2 and "does not fit this run's" in err and "Traceback" not in err


def test_a_damaged_source_is_named(tmp_path, tiny_config):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint at all")
    with pytest.raises(GanforgeError, match="bad.pt"):
        Trainer(replace(tiny_config, init_from=str(bad)), tmp_path / "r", quiet=True)
    with pytest.raises(GanforgeError, match="no such run directory or checkpoint file"):
        Trainer(replace(tiny_config, init_from=str(tmp_path / "nothing")), tmp_path / "r2", quiet=True)
