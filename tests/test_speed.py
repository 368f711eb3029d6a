"""The fast training path gives the same results as the plain one: precision, memory format, fused Adam."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from ganforge.models import create_model
from ganforge.runtime import resolve_precision
from ganforge.train.loop import Trainer
from ganforge.train.speed import adam

sys.path.insert(0, str(Path(__file__).parent))
from weights_delta import relative_change  # noqa: E402


def run_weights(config, out: Path) -> tuple[dict, dict, list[dict]]:
    trainer = Trainer(config, out, quiet=True)
    start = {k: v.clone() for k, v in trainer.G.state_dict().items()}
    trainer.run()
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return start, trainer.G.state_dict(), records


@pytest.mark.parametrize("precision", ["bf16", "auto"])
def test_precision_modes_stay_finite_and_near_fp32(tiny_config, tmp_path, one_thread, precision):
    config = replace(tiny_config, total_steps=3, log_every=1, sample_every=100, checkpoint_every=100)
    with one_thread():
        start, fp32, fp32_log = run_weights(config, tmp_path / "fp32")
        _, other, other_log = run_weights(replace(config, precision=precision), tmp_path / precision)
    for a, b in zip(fp32_log, other_log):
        for key in ("loss/D", "loss/G"):
            assert b[key] is not None and abs(a[key] - b[key]) < 5e-3, (key, a[key], b[key])
    assert all(torch.isfinite(v).all() for v in other.values() if v.is_floating_point())
    # bf16 moved the weights within 2% of fp32's update (measured 0.4%, about what flipping the data gives)
    assert relative_change(other, fp32, start) < 0.02
    if resolve_precision(precision, torch.device("cpu")) == "fp32":
        assert relative_change(other, fp32, start) == 0.0


def test_channels_last_and_contiguous_give_the_same_outputs_and_gradients(one_thread):
    torch.manual_seed(0)
    G, D = create_model("dcgan", resolution=16, channels=3, latent_dim=8, g_width=8, d_width=8)
    z = torch.randn(4, 8)
    results = []
    with one_thread():
        for memory_format in (torch.contiguous_format, torch.channels_last):
            G.to(memory_format=memory_format)
            D.to(memory_format=memory_format)
            G.zero_grad(set_to_none=True)
            fake = G(z)
            logits = D(fake.contiguous(memory_format=memory_format))
            logits.sum().backward()
            results.append((fake.detach(), logits.detach(), [p.grad.clone() for p in G.parameters()]))
    (fake_a, logits_a, grads_a), (fake_b, logits_b, grads_b) = results
    assert torch.allclose(fake_a, fake_b, atol=1e-5)
    assert torch.allclose(logits_a, logits_b, atol=1e-5)
    assert all(torch.allclose(a, b, atol=1e-5, rtol=1e-4) for a, b in zip(grads_a, grads_b))


def test_fused_adam_steps_like_the_plain_loop():
    torch.manual_seed(0)
    weights = [torch.randn(5, 3), torch.randn(7)]
    params_a = [torch.nn.Parameter(w.clone()) for w in weights]
    params_b = [torch.nn.Parameter(w.clone()) for w in weights]
    fast = adam(params_a, 2e-4, (0.5, 0.999), torch.device("cpu"))
    plain = torch.optim.Adam(params_b, lr=2e-4, betas=(0.5, 0.999), foreach=False)
    for _ in range(3):
        grads = [torch.randn_like(w) for w in weights]
        for p, q, g in zip(params_a, params_b, grads):
            p.grad, q.grad = g.clone(), g.clone()
        fast.step()
        plain.step()
    assert all(torch.allclose(p, q, atol=1e-7) for p, q in zip(params_a, params_b))
    assert not torch.equal(params_a[0], weights[0])
