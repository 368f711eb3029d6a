"""Building a run (training/run.py): the same weights for a seed, and nothing changed in the process."""

from __future__ import annotations

from dataclasses import replace

import torch

from ganforge.models import create_model
from ganforge.training.loop import Trainer, train
from ganforge.training.rollback import Rollback
from ganforge.training.run import RunRandom
from ganforge.training.run_folder import RunFolder
from ganforge.training.speed import process_settings

# the sum of G's initial weights for tiny_config (seed 0), as torch.manual_seed(0) before building gave them
TINY_G_SUM = 47.480080709314734


def _g_sum(G: torch.nn.Module) -> float:
    return float(sum(v.double().sum() for v in G.state_dict().values()))


def test_building_and_training_leave_the_global_rng_and_threads_alone(tiny_config, tmp_path) -> None:
    threads = torch.get_num_threads()
    torch.manual_seed(123)
    before = torch.get_rng_state()
    trainer = Trainer(replace(tiny_config, threads=threads + 1, total_steps=2), tmp_path / "run", quiet=True)
    assert torch.equal(torch.get_rng_state(), before)
    assert torch.get_num_threads() == threads  # --threads is the process's to set (process_settings)
    trainer.run()
    assert torch.equal(torch.get_rng_state(), before)


def test_a_seed_gives_the_weights_global_seeding_gave(tiny_config, tmp_path) -> None:
    trainer = Trainer(tiny_config, tmp_path / "run", quiet=True)
    assert _g_sum(trainer.G) == TINY_G_SUM
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(tiny_config.seed)
        G, _ = create_model(trainer.recipe.model_name(), **trainer.recipe.model_args())
    assert all(torch.equal(a, b) for a, b in zip(G.state_dict().values(), trainer.G.state_dict().values()))


def test_the_run_draws_from_its_own_stream_whatever_the_process_did(tiny_config, tmp_path) -> None:
    """Dropout, penalties and instance noise draw from torch's global RNG: the run's stream is its own."""
    config = replace(tiny_config, total_steps=2, instance_noise=0.1)
    results = []
    for i, seed in enumerate((1, 2)):
        torch.manual_seed(seed)  # what else the process did before
        trainer = Trainer(config, tmp_path / f"run{i}", quiet=True)
        trainer.run()
        results.append(trainer.G.state_dict())
    assert all(torch.equal(results[0][k], results[1][k]) for k in results[0])


def test_train_makes_the_process_settings_the_run_asks_for(tiny_config, tmp_path) -> None:
    threads = torch.get_num_threads()
    try:
        train(replace(tiny_config, threads=1, total_steps=1), tmp_path / "run", quiet=True)
        assert torch.get_num_threads() == 1
        process_settings(replace(tiny_config, threads=threads), torch.device("cpu"))
        assert torch.get_num_threads() == threads
    finally:
        torch.set_num_threads(threads)


def test_the_run_stream_starts_where_manual_seed_does() -> None:
    rng = RunRandom(5, torch.device("cpu"))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(5)
        expected = torch.rand(3)
    with rng.active():
        assert torch.equal(torch.rand(3), expected)


def test_rollback_restores_a_run_through_its_public_interface(tiny_config, tmp_path) -> None:
    """Rollback needs of a run only its step, its optimisers and restore(state); of the folder, its checkpoints."""
    train(replace(tiny_config, total_steps=2), tmp_path / "run", quiet=True)

    class Probe:
        step = 3

        def __init__(self) -> None:
            self.restored_step = None
            self.optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)

        def restore(self, state: dict) -> None:
            self.restored_step = state["step"]

        def optimizers(self) -> list[torch.optim.Optimizer]:
            return [self.optimizer]

    probe = Probe()
    assert Rollback(2, warn=lambda message: None).roll_back(probe, RunFolder(tmp_path / "run"), "loss/D is nan") == 2
    assert probe.restored_step == 2 and probe.optimizer.param_groups[0]["lr"] == 0.5
