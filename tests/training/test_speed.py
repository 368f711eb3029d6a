"""The fast training path gives the same results as the plain one: precision, memory format, fused Adam."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from ganforge.models import create_model
from ganforge.recipes import update
from ganforge.runtime import loss_scalers, resolve_precision
from ganforge.training.loop import Trainer
from ganforge.training.speed import adam, keep_freed_memory

from helpers.weights_delta import relative_change


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


def test_fp16_loss_scaler_skips_an_overflowed_step_and_drops_its_gradients():
    weight = torch.nn.Parameter(torch.ones(3))
    optimizer = torch.optim.SGD([weight], lr=0.1)
    scaler, _ = loss_scalers("fp16", torch.device("cpu"))
    start_scale = scaler.get_scale()
    update(optimizer, (weight * 1e36).sum(), scaler)  # x 65536 overflows fp32 in the backward pass
    assert torch.equal(weight.detach(), torch.ones(3)) and weight.grad is None
    assert scaler.get_scale() == start_scale / 2
    update(optimizer, weight.sum(), scaler)  # a normal loss: a normal step, gradients unscaled
    assert torch.allclose(weight.detach(), torch.full((3,), 0.9)) and torch.allclose(weight.grad, torch.ones(3))


def test_fp16_run_trains_and_resumes_exactly_with_its_loss_scalers(tiny_config, tmp_path, one_thread):
    from ganforge.checkpoint import load_checkpoint
    from ganforge.training.loop import train

    config = replace(tiny_config, precision="fp16", total_steps=4, log_every=1, checkpoint_every=2)
    with one_thread():
        start, straight, log = run_weights(config, tmp_path / "straight")
        train(replace(config, total_steps=2), tmp_path / "stopped", quiet=True)
        train(config, tmp_path / "stopped", resume=True, quiet=True)
    assert all(record[key] is not None and record[key] == record[key] for record in log
               for key in ("loss/D", "loss/G"))
    assert all(torch.isfinite(v).all() for v in straight.values() if v.is_floating_point())
    assert any(not torch.equal(straight[k], v) for k, v in start.items())  # steps were taken, not all skipped
    saved = load_checkpoint(tmp_path / "straight")
    assert len(saved["loss_scalers"]) == 2 and saved["loss_scalers"][0]["scale"] <= 2.0**16
    resumed = load_checkpoint(tmp_path / "stopped")
    for key, value in saved["G"].items():  # the scalers' scales resumed too (else the resumed run skips again)
        assert torch.equal(value, resumed["G"][key]), key


def test_auto_precision_is_bf16_where_native_and_fp16_on_older_cuda_gpus(monkeypatch):
    import ganforge.runtime as runtime

    monkeypatch.setattr(runtime, "native_bf16", lambda device: False)
    assert resolve_precision("auto", torch.device("cuda")) == "fp16"
    assert resolve_precision("auto", torch.device("cpu")) == "fp32"
    monkeypatch.setattr(runtime, "native_bf16", lambda device: True)
    assert resolve_precision("auto", torch.device("cuda")) == "bf16"


def test_bf16_on_a_cpu_that_emulates_it_is_said_once(monkeypatch, capsys):
    """Emulated bf16 ran a VGG19 step 28x slower than fp32: asking for it there gets one warning per process."""
    import ganforge.runtime as runtime

    runtime.warn_emulated_bf16.cache_clear()
    cpu = torch.device("cpu")
    monkeypatch.setattr(runtime, "native_bf16", lambda device: True)
    with runtime.autocast(cpu, "bf16"):
        pass
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(runtime, "native_bf16", lambda device: False)
    for precision in ("fp32", "bf16", "bf16"):
        with runtime.autocast(cpu, precision):
            assert torch.is_autocast_enabled("cpu") is (precision == "bf16")
    err = capsys.readouterr().err
    assert err.count("no native bf16 kernels") == 1 and "--precision auto" in err
    runtime.warn_emulated_bf16.cache_clear()


def test_freed_memory_is_kept_where_glibc_allows_it():
    """mallopt exists (and the settings are accepted) exactly where the C library is glibc."""
    import ctypes.util

    glibc = (ctypes.util.find_library("c") or "").startswith("libc.so")
    assert keep_freed_memory() is glibc


def test_loss_scalers_belong_to_the_run_not_to_a_module_table(tiny_config, tmp_path):
    """Each run holds its own G and D scalers and hands them to its step; no module keeps scalers by optimiser."""
    import importlib
    import pkgutil
    import weakref

    import ganforge.recipes
    import ganforge.runtime
    import ganforge.training

    modules = [ganforge.runtime] + [importlib.import_module(f"{package.__name__}.{info.name}")
                                    for package in (ganforge.recipes, ganforge.training)
                                    for info in pkgutil.iter_modules(package.__path__)]
    tables = [f"{m.__name__}.{name}" for m in modules for name, value in vars(m).items()
              if isinstance(value, weakref.WeakKeyDictionary | weakref.WeakValueDictionary)]
    assert not tables
    trainer = Trainer(replace(tiny_config, precision="fp16"), tmp_path / "run", quiet=True)
    scaler_G, scaler_D = trainer.built.scalers
    assert isinstance(scaler_G, torch.amp.GradScaler) and scaler_G is not scaler_D
    parts = trainer.step_fn.parts
    assert (parts.scaler_G, parts.scaler_D) == (scaler_G, scaler_D)
    fp32 = Trainer(tiny_config, tmp_path / "fp32", quiet=True)
    assert fp32.built.scalers == (None, None) and fp32.built.loss_scalers() == []
