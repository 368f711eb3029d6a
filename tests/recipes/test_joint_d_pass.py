"""GANStep judges the real and the fake batch in one D pass when D's layers treat samples alone."""

from __future__ import annotations

import copy
import dataclasses

import pytest
import torch

from ganforge.config import TrainConfig
from ganforge.models import create_model
from ganforge.recipes import StepParts
from ganforge.recipes.gan import judges_samples_independently, make_gan_step, model_args
from ganforge.recipes.infogan import InfoGANRecipe, make_infogan_step


def _nets(config: TrainConfig) -> tuple[torch.nn.Module, torch.nn.Module]:
    args = InfoGANRecipe(config, None).model_args() if config.latent_classes else model_args(config)
    return create_model("dcgan", **args)


def _make_step(config: TrainConfig, parts: StepParts):
    return (make_infogan_step if config.latent_classes else make_gan_step)(config, parts)


def _one_step(config: TrainConfig, joint: bool) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    torch.manual_seed(0)
    G, D = _nets(config)
    opt_G = torch.optim.Adam(G.parameters(), lr=1e-3)
    opt_D = torch.optim.Adam(D.parameters(), lr=1e-3)
    step = _make_step(config, StepParts(G, D, opt_G, opt_D, torch.device("cpu")))
    step.joint_d = joint
    generator = torch.Generator().manual_seed(1)
    real = torch.rand(8, 1, 16, 16, generator=generator) * 2 - 1
    z = torch.randn(8, config.latent_dim, generator=generator)
    stats = step(real, z)
    return stats, copy.deepcopy(D.state_dict())


@pytest.mark.parametrize("latent_classes", [0, 3])
def test_one_pass_gives_the_same_step_as_two(tiny_config: TrainConfig, latent_classes: int) -> None:
    config = dataclasses.replace(tiny_config, d_batchnorm=False, loss="hinge", latent_classes=latent_classes)
    joint_stats, joint_D = _one_step(config, joint=True)
    apart_stats, apart_D = _one_step(config, joint=False)
    for key in ("loss/D", "loss/G", "D/real_prob", "D/fake_prob"):
        assert joint_stats[key].item() == pytest.approx(apart_stats[key].item(), rel=1e-5), key
    for key, value in joint_D.items():
        torch.testing.assert_close(value, apart_D[key], rtol=1e-5, atol=1e-6)


def test_batch_norm_or_minibatch_std_keep_two_passes(tiny_config: TrainConfig) -> None:
    def D_of(**changes: object) -> torch.nn.Module:
        return create_model("dcgan", **model_args(dataclasses.replace(tiny_config, **changes)))[1]

    assert judges_samples_independently(D_of(d_batchnorm=False))
    assert not judges_samples_independently(D_of(d_batchnorm=True))  # real and fake statistics would mix
    assert not judges_samples_independently(D_of(d_batchnorm=False, minibatch_std=True))


@pytest.mark.parametrize("latent_classes", [0, 3])
def test_d_only_step_updates_d_alone_in_one_pass(tiny_config: TrainConfig, latent_classes: int) -> None:
    """--d-steps / --balance skip: a step with train_g=False updates D exactly as a full step does, leaves G
    alone, and reports G's loss from the stage-1 verdict instead of judging the fakes a second time."""
    config = dataclasses.replace(tiny_config, d_batchnorm=False, loss="hinge", latent_classes=latent_classes)
    _, full_D = _one_step(config, joint=True)

    torch.manual_seed(0)
    G, D = _nets(config)
    G_before = copy.deepcopy(G)
    D_before = copy.deepcopy(D)
    step = _make_step(config, StepParts(G, D, torch.optim.Adam(G.parameters(), lr=1e-3),
                                           torch.optim.Adam(D.parameters(), lr=1e-3), torch.device("cpu")))
    passes = []
    D.register_forward_hook(lambda module, args, out: passes.append(len(args[0])))
    generator = torch.Generator().manual_seed(1)
    real = torch.rand(8, 1, 16, 16, generator=generator) * 2 - 1
    z = torch.randn(8, config.latent_dim, generator=generator)
    stats = step(real, z, train_g=False)

    if not latent_classes:  # an InfoGAN's D runs forward_with_codes, which the hook does not see
        assert passes == [16]  # real and fake together, once
    for key, value in D.state_dict().items():
        torch.testing.assert_close(value, full_D[key], rtol=1e-5, atol=1e-6)
    for before, after in zip(G_before.parameters(), G.parameters()):  # (BN statistics move: G ran in train mode)
        torch.testing.assert_close(after, before, rtol=0, atol=0)
    with torch.no_grad():
        judged_before_update = D_before(G_before(z))
    assert stats["loss/G"].item() == pytest.approx(step.loss.g_loss(judged_before_update).item(), rel=1e-5)
    assert all(p.requires_grad for p in D.parameters())
