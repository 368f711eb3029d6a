"""Every registered model's state-dict keys and shapes against model_state_keys.json.

The JSON holds them as the checkpoints already written carry them (each DCGAN upsampling mode, 16 px, non-square,
latent classes, minibatch std, packing, spectral norm on D, conditional DCGAN, the --d-arch / --g-arch backbones,
MSG-GAN, progressive growing, FastGAN, pix2pix, the MLP, the fully connected image GAN, R3GAN plain and conditional).
A run folder must keep loading and sampling, so a model may change its layers only in ways that keep these keys (e.g.
a parameterless layer in the place of another), and so must accelerate()'s faster forms (the Trainer's networks,
which write the checkpoints); change the JSON only with a checkpoint conversion.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from torch import nn

from ganforge.accel import AccelPolicy, accelerate
from ganforge.models import create_model, model_names
from ganforge.models.layers import apply_spectral_norm

KEYS = json.loads((Path(__file__).parent / "model_state_keys.json").read_text())


def _layout(net: nn.Module) -> list[str]:
    return [f"{key} {tuple(value.shape)}" for key, value in net.state_dict().items()]


@pytest.mark.parametrize("label", list(KEYS))
@pytest.mark.parametrize("policy", [AccelPolicy.plain(), AccelPolicy()], ids=["plain", "accelerated"])
def test_state_dict_keys_are_those_of_checkpoints_on_disk(label, policy):
    case = KEYS[label]
    G, D = create_model(case["model"], **case["args"])
    G, D = accelerate(G, policy), accelerate(D, policy)  # as the Trainer builds them: before spectral norm
    if case["spectral_norm"]:
        apply_spectral_norm(D)
    assert _layout(G) == case["G"]
    assert _layout(D) == case["D"]


def test_every_registered_model_has_stored_keys():
    assert {case["model"] for case in KEYS.values()} == set(model_names())
