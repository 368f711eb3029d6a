"""High-resolution architectures: MSG-GAN scales, progressive stages and fade-in, exact resume
mid-fade, FastGAN and the small-data choice, non-square images through G, D, data and training."""

import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.aspect import base_grid, image_size, parse_aspect
from ganforge.checkpoint import load_checkpoint
from ganforge.config import TrainConfig, resolve_config
from ganforge.config.train_config import saved_settings
from ganforge.data import load_dataset
from ganforge.errors import GanforgeError
from ganforge.inference.sampling import load_generator
from ganforge.losses.relativistic import d_loss_rahinge, g_loss_rahinge, pair_loss
from ganforge.models import create_model
from ganforge.training.loop import train
from ganforge.training.progressive_schedule import stage_at

TINY = dict(channels=3, latent_dim=8, g_width=4, d_width=4)


@pytest.fixture(scope="module", autouse=True)
def _tiny_work_on_one_thread(one_thread):
    with one_thread():
        yield


@pytest.fixture
def config(tiny_config):
    return replace(tiny_config, loss="rahinge", total_steps=2, log_every=1, sample_every=1000, checkpoint_every=2)


# --- MSG-GAN --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("aspect", ["1:1", "2:1"])
def test_msg_generator_emits_every_scale_and_the_discriminator_takes_them(aspect):
    torch.manual_seed(0)
    G, D = create_model("msg", resolution=32, aspect=aspect, **TINY)
    scales = G.scales(torch.randn(2, 8))
    h0, w0 = base_grid(aspect)
    assert [tuple(s.shape) for s in scales] == [(2, 3, h0 * 2**k, w0 * 2**k) for k in range(4)]
    assert G(torch.randn(2, 8)).shape == scales[-1].shape == (2, 3, *image_size(32, aspect))
    assert D(scales).shape == (2,)
    with pytest.raises(ValueError, match="takes 4 scales"):
        D(scales[1:])


def test_msg_discriminator_on_full_images_averages_them_down():
    torch.manual_seed(0)
    _, D = create_model("msg", resolution=16, **TINY)
    x = torch.rand(4, 3, 16, 16) * 2 - 1
    pyramid = [torch.nn.functional.avg_pool2d(x, 4), torch.nn.functional.avg_pool2d(x, 2), x]
    assert torch.allclose(D(x), D(pyramid), atol=1e-6)


def test_relativistic_hinge_closed_form():
    real, fake = torch.tensor([2.0, 0.0]), torch.tensor([-1.0, 1.0])  # means: real 1, fake 0
    # D: relu(1 - (real - 0)) = [0, 1] -> 0.5; relu(1 + (fake - 1)) = [0, 1] -> 0.5
    assert d_loss_rahinge(real, fake).item() == pytest.approx(1.0)
    # G: relu(1 - (fake - 1)) = [3, 1] -> 2; relu(1 + (real - 0)) = [3, 1] -> 2
    assert g_loss_rahinge(real, fake).item() == pytest.approx(4.0)
    plain = pair_loss("nonsat")
    assert not plain.relativistic and plain.g_loss(real, fake).item() == pytest.approx(
        torch.nn.functional.softplus(-fake).mean().item())


@pytest.mark.parametrize("model", ["msg", "progressive", "fastgan"])
def test_two_training_steps_then_sampling_from_the_checkpoint(config, tmp_path, model):
    run = tmp_path / model
    result = train(replace(config, model=model), run, quiet=True)
    assert result.step == 2
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert all(np.isfinite(r["loss/D"]) and np.isfinite(r["loss/G"]) for r in records)
    loaded = load_generator(run)
    images = loaded.G(torch.randn(3, 8))
    assert images.shape == (3, 1, 16, 16)
    assert load_checkpoint(run)["model"] == model


# --- progressive growing --------------------------------------------------------------------------------
def test_schedule_stages_and_fades():
    stage = dict(last_stage=2, stage_images=100, fade_images=50)
    assert stage_at(0, **stage) == (0, 1.0)
    assert stage_at(99, **stage) == (0, 1.0)
    assert stage_at(100, **stage) == (1, 0.0)  # stage 1 starts fading in
    assert stage_at(125, **stage) == (1, 0.5)
    assert stage_at(150, **stage) == (1, 1.0)  # faded in; trains at full weight for 100 images
    assert stage_at(250, **stage) == (2, 0.0)
    assert stage_at(290, **stage) == (2, 0.8)
    assert stage_at(10**6, **stage) == (2, 1.0)  # the last stage stays
    assert stage_at(100, last_stage=2, stage_images=100, fade_images=0) == (1, 1.0)


def test_fade_in_weights_blend_the_new_stage_with_the_previous_one():
    torch.manual_seed(0)
    G, D = create_model("progressive", resolution=32, **TINY)
    z, x = torch.randn(4, 8), torch.rand(4, 3, 32, 32) * 2 - 1

    def run(stage, alpha):
        G.set_stage(stage, alpha)
        D.set_stage(stage, alpha)
        return G(z), D(x)

    (g1, d1), (g2_start, d2_start), (g2_mid, d2_mid), (g2, d2) = run(1, 1.0), run(2, 0.0), run(2, 0.5), run(2, 1.0)
    # alpha 0: the new stage contributes nothing, so it is exactly the previous stage (nearest-upsampled)
    assert torch.allclose(g2_start, g1, atol=1e-6) and torch.allclose(d2_start, d1, atol=1e-5)
    # alpha 0.5 in G: the pre-tanh image is the average of the new stage's and the upsampled old one
    assert torch.allclose(torch.atanh(g2_mid.clamp(-0.999999, 0.999999)),
                          (torch.atanh(g2.clamp(-0.999999, 0.999999)) + torch.atanh(g1.clamp(-0.999999, 0.999999)))
                          / 2, atol=1e-3)
    assert not torch.allclose(d2_mid, d1) and not torch.allclose(d2_mid, d2)
    assert g2.shape == g1.shape == (4, 3, 32, 32)  # always full size
    # stage 1's image has 8x8 distinct pixels: each 4x4 block is one colour
    assert torch.equal(g1, g1[:, :, ::4, ::4].repeat_interleave(4, 2).repeat_interleave(4, 3))
    assert "to_rgb.0.weight" in G.inactive_parameters() and "to_rgb.1.weight" in G.inactive_parameters()
    G.set_stage(2, 0.5)
    assert "to_rgb.1.weight" not in G.inactive_parameters() and "blocks.1.1.weight" not in G.inactive_parameters()


def test_a_loaded_progressive_generator_exports_at_its_own_stage(tmp_path):
    pytest.importorskip("onnx")
    from ganforge.inference.export import export_module

    torch.manual_seed(0)
    G, _ = create_model("progressive", resolution=16, **TINY)
    G.set_stage(1, 0.5)
    fresh, _ = create_model("progressive", resolution=16, **TINY)  # built at stage 0
    fresh.load_state_dict(G.state_dict())
    # the export's parity check runs the eager module (reading the buffers) against the exported file
    result = export_module(fresh, lambda n, g: (torch.randn(n, 8, generator=g),), tmp_path / "g.onnx",
                           input_names=("z",))
    assert result.max_abs_diff < 1e-4 and result.output_shape == (3, 16, 16)


def _progressive(config):
    # batch 8, 16 images per stage, 16 to fade: stage 0 for steps 1-2, stage 1 fades in over steps 3-4, ...
    return replace(config, model="progressive", stage_images=16, fade_images=16,
                   total_steps=6, checkpoint_every=3, log_every=1, ema_beta=0.9)


def test_progressive_run_moves_through_stages_and_saves_them(config, tmp_path):
    train(_progressive(config), tmp_path / "run", quiet=True)
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [(r["progressive/stage"], r["progressive/alpha"]) for r in records] == [
        (0, 1.0), (0, 1.0), (1, 0.0), (1, 0.5), (1, 1.0), (1, 1.0)]
    state = load_checkpoint(tmp_path / "run")
    assert state["recipe_state"] == {"images_seen": 48}
    assert int(state["G"]["stage"]) == 1 and int(state["G_ema"]["stage"]) == 1


def test_resume_mid_fade_equals_an_uninterrupted_run(config, tmp_path):
    cfg = _progressive(config)  # the checkpoint at step 3 is in the middle of stage 1's fade-in
    train(cfg, tmp_path / "straight", quiet=True)
    train(replace(cfg, total_steps=3), tmp_path / "stopped", quiet=True)
    middle = load_checkpoint(tmp_path / "stopped")
    assert (int(middle["G"]["stage"]), float(middle["G"]["alpha"])) == (1, 0.0)
    assert middle["recipe_state"] == {"images_seen": 24}
    train(replace(cfg, total_steps=6), tmp_path / "stopped", resume=True, quiet=True)
    straight, resumed = load_checkpoint(tmp_path / "straight"), load_checkpoint(tmp_path / "stopped")
    for part in ("G", "D", "G_ema"):
        for key, value in straight[part].items():
            assert torch.equal(value, resumed[part][key]), f"{part}.{key} differs after resume"
    assert resumed["recipe_state"] == straight["recipe_state"]


@pytest.mark.parametrize("model", ["msg", "fastgan"])  # fastgan: DiffAugment's random draws must resume too
def test_resume_equals_an_uninterrupted_run(config, tmp_path, model):
    cfg = replace(config, model=model, total_steps=4, checkpoint_every=2)
    train(cfg, tmp_path / "straight", quiet=True)
    train(replace(cfg, total_steps=2), tmp_path / "stopped", quiet=True)
    train(cfg, tmp_path / "stopped", resume=True, quiet=True)
    straight, resumed = load_checkpoint(tmp_path / "straight"), load_checkpoint(tmp_path / "stopped")
    for part in ("G", "D"):
        for key, value in straight[part].items():
            assert torch.equal(value, resumed[part][key]), f"{part}.{key} differs after resume"


# --- FastGAN and the small-data default -------------------------------------------------------------------
def test_fastgan_skip_layer_excitation_gates_the_large_features():
    torch.manual_seed(0)
    G, _ = create_model("fastgan", resolution=64, **TINY)
    assert G.sle_pairs == [(1, 4)]  # 8 px features excite the 64 px ones
    z = torch.randn(2, 8)
    before = G(z)
    torch.nn.init.constant_(G.sle[0].gate[3].bias, -30.0)  # gates ~0: the 64 px features are switched off
    after = G(z)
    assert not torch.allclose(before, after)
    assert torch.allclose(after, after[:1].expand_as(after), atol=1e-4)  # no features left: same image for all z


def test_small_data_at_128px_picks_fastgan_and_says_so():
    said = []
    chosen = resolve_config({"data": "digits", "resolution": 128}, notify=said.append)
    assert chosen.model == "fastgan" and "1797 images" in said[0] and "--model" in said[0]
    assert chosen.loss == "rahinge" and chosen.g_width == 8 and chosen.augment == "off"  # fastgan's own settings
    said.clear()
    assert resolve_config({"data": "digits", "resolution": 128, "model": "dcgan"}, notify=said.append).model == "dcgan"
    assert resolve_config({"data": "digits", "resolution": 64}, notify=said.append).model == "dcgan"
    # 5,000 images are not small (--preset auto picks FastGAN for them by its own rule: config/auto.py)
    assert resolve_config({"data": "shapes", "resolution": 128, "preset": "plain"}, notify=said.append).model == "dcgan"
    assert not said
    assert resolve_config({"data": "digits", "resolution": 128, "lr_g": 1e-3}).lr_g == 1e-3  # a given value wins


def test_cli_announces_the_small_data_choice(tmp_path, capsys, monkeypatch):
    from ganforge.cli import main

    seen = {}
    monkeypatch.setattr("ganforge.training.loop.train",
                        lambda config, out, **kw: seen.setdefault("c", config) and 1 / 0)
    with pytest.raises(ZeroDivisionError):
        main(["train", "--data", "digits", "--resolution", "128", "--out", str(tmp_path / "r")])
    assert seen["c"].model == "fastgan" and seen["c"].loss == "rahinge"
    assert "using --model fastgan" in capsys.readouterr().err


# --- non-square images ------------------------------------------------------------------------------------
@pytest.mark.parametrize("model", ["dcgan", "msg", "progressive", "fastgan"])
@pytest.mark.parametrize("aspect", ["2:1", "2:3"])
def test_non_square_shapes_through_generator_and_discriminator(model, aspect):
    torch.manual_seed(0)
    G, D = create_model(model, resolution=16, aspect=aspect, **TINY)
    fake = G(torch.randn(2, 8))
    assert fake.shape == (2, 3, *image_size(16, aspect))
    assert D(fake).shape == (2,)


@pytest.mark.parametrize("model", ["msg", "progressive", "fastgan"])
def test_256px_builds_and_runs(model):
    torch.manual_seed(0)
    G, D = create_model(model, resolution=256, channels=3, latent_dim=4, g_width=1, d_width=1)
    if model == "progressive":
        G.set_stage(G.last_stage)
        D.set_stage(D.last_stage)
    fake = G(torch.randn(1, 4))
    assert fake.shape == (1, 3, 256, 256) and D(fake).shape == (1,)


def test_aspect_parsing_and_errors():
    assert parse_aspect("4:2") == (2, 1) and image_size(32, "2:1") == (32, 64) and image_size(32, "1:2") == (64, 32)
    for bad in ("2x1", "0:1", "5:1", "4:3"):
        with pytest.raises(GanforgeError, match="--aspect"):
            parse_aspect(bad)
    with pytest.raises(GanforgeError, match="--aspect 2:1: non-square images work with"):
        TrainConfig(model="pix2pix", aspect="2:1").validate()
    with pytest.raises(GanforgeError, match="--conditional"):
        TrainConfig(conditional=True, aspect="2:1").validate()


def test_folder_images_are_cropped_to_the_aspect_not_squashed(tmp_path):
    picture = np.zeros((40, 40, 3), np.uint8)
    picture[:, :20] = 255  # left half white: a 2:1 crop of the centre keeps the full height, all of the width
    picture[:10] = (255, 0, 0)  # top quarter red: cropped away
    Image.fromarray(picture).save(tmp_path / "a.png")
    images = load_dataset(str(tmp_path), 16, 3, aspect="2:1").images  # 16 x 32 from a square
    assert images.shape == (1, 16, 32, 3)
    assert (images[0, :, :12] > 200).all() and (images[0, :, 20:] < 50).all()  # halves kept, not squashed
    assert load_dataset("digits", 16, 1, aspect="1:2").images.shape[1:] == (32, 16, 1)  # built-ins: cropped


@pytest.mark.parametrize("model", ["dcgan", "msg", "fastgan"])
def test_non_square_training_run(config, tmp_path, model):
    cfg = replace(config, model=model, aspect="2:1", loss="rahinge" if model != "dcgan" else "nonsat")
    train(cfg, tmp_path / "run", quiet=True)
    loaded = load_generator(tmp_path / "run")
    assert loaded.G(torch.randn(2, 8)).shape == (2, 1, 16, 32)
    assert Image.open(tmp_path / "run" / "samples" / "0000002.png").width > Image.open(
        tmp_path / "run" / "samples" / "0000002.png").height


# --- metrics during training --------------------------------------------------------------------------------
@pytest.mark.parametrize("model,aspect", [("progressive", "1:1"), ("msg", "2:1")])
def test_scoring_during_training_keeps_the_best_checkpoint(config, tmp_path, model, aspect):
    growing = dict(stage_images=8, fade_images=8) if model == "progressive" else {}  # refused for the others
    cfg = replace(config, model=model, aspect=aspect, total_steps=4, eval_every=2,
                  eval_samples=16, eval_extractor="random", eval_metric="kid", **growing)
    train(cfg, tmp_path / "run", quiet=True)
    scored = [r for r in map(json.loads, (tmp_path / "run" / "metrics.jsonl").read_text().splitlines())
              if "eval/kid" in r]
    assert [r["step"] for r in scored] == [2, 4] and all(np.isfinite(r["eval/kid"]) for r in scored)
    best = load_checkpoint(tmp_path / "run" / "checkpoints" / "best.pt")
    assert best["step"] in (2, 4) and best["model"] == model


@pytest.mark.parametrize("flag", [dict(spectral_norm=True), dict(augment="ada"), dict(pack=2),
                                  dict(instance_noise=0.1), dict(balance="skip")])
def test_stabilisers_that_would_be_half_applied_are_refused_for_the_highres_models(flag):
    # msg's D takes a list of scales, fastgan augments and spectral-normalises its own D (training/remedies.py)
    with pytest.raises(GanforgeError, match="not available for --model msg"):
        TrainConfig(data="shapes", model="msg", **flag).validate()


def test_relativistic_loss_is_refused_for_dcgan_and_small_data_is_not_augmented_twice(config, tmp_path):
    with pytest.raises(GanforgeError, match="--loss rahinge works with --model fastgan, msg, progressive"):
        TrainConfig(data="shapes", model="dcgan", loss="rahinge").validate()
    # digits has < 5,000 images, so --augment auto would mean ADA for dcgan; the highres recipes keep their own
    cfg = replace(config, model="fastgan", loss="rahinge", total_steps=2)
    assert cfg.augment == "auto"
    train(cfg, tmp_path / "run", quiet=True)
    saved = saved_settings((tmp_path / "run" / "config.json").read_text())
    assert saved["augment"] == "off"
