"""Optimisation, coarse-to-fine, colours, several styles, the VGG19 path end to end, and the CLI."""

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.cli import main
from ganforge.errors import GanforgeError
from ganforge.style import StyleConfig, stylize
from ganforge.style.colour import to_yiq
from ganforge.style.gatys import (
    PixelOptimiser,
    auto_levels,
    build_objective,
    load_image,
    optimise,
    scale_sizes,
    steps_per_level,
)
from ganforge.style.losses import gram
from ganforge.style.networks import build_features
from ganforge.style.vgg import random_vgg19_state

TINY = dict(features="random", size=24, steps=2, device="cpu", precision="fp32")


def stripes(h=20, w=28, period=4, colour=(230, 40, 40)) -> np.ndarray:
    """A uint8 (H, W, 3) test picture: coloured vertical stripes."""
    image = np.full((h, w, 3), 20, np.uint8)
    image[:, (np.arange(w) // period) % 2 == 0] = colour
    return image


def blob(h=20, w=28) -> np.ndarray:
    """A soft bright disc on a dark background."""
    yy, xx = np.mgrid[:h, :w]
    disc = np.exp(-((yy - h / 2) ** 2 + (xx - w / 2) ** 2) / (0.1 * h * w))
    return (np.stack([disc, disc * 0.8, disc * 0.5], -1) * 255).astype(np.uint8)


def objective_for(content, styles, blend=(1.0,), kind="random", precision="fp32"):
    layers = {"random": (["scale2"], ["scale1", "scale2", "scale3"]), "vgg19": (["relu2_1"], ["relu1_1", "relu2_1"])}
    c_layers, s_layers = layers[kind]
    net = build_features(kind, c_layers + s_layers)
    return build_objective(net, content, styles, dict.fromkeys(c_layers, 1.0),
                           {n: 1 / len(s_layers) for n in s_layers}, list(blend), (1.0, 10.0, 1.0),
                           torch.device("cpu"), precision)


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_a_few_steps_lower_the_total_loss(optimizer):
    content, style = load_image(blob(), 24), load_image(stripes(), 24)
    objective = objective_for(content, [style])
    losses = []
    result = optimise(objective, content, 5, optimizer, on_step=lambda terms, x: losses.append(terms["total"]))
    final = objective.terms(result)["total"].item()
    assert len(losses) == 5 and losses[0] == pytest.approx(objective.terms(content)["total"].item(), rel=1e-5)
    assert final < 0.9 * losses[0], (losses, final)


def test_the_lowest_loss_image_is_returned_when_the_optimiser_overshoots():
    content, style = load_image(blob(), 24), load_image(stripes(), 24)
    objective = objective_for(content, [style])
    optimiser = PixelOptimiser(objective, content, "adam", lr=5.0)  # far too large: every step makes it worse
    start_loss = optimiser.step()["total"]
    optimiser.step()
    last = objective.terms(optimiser.image.detach())["total"].item()
    best = objective.terms(optimiser.result())["total"].item()
    assert last > start_loss  # the optimiser made it worse ...
    assert best == pytest.approx(start_loss, rel=1e-5)  # ... and the starting image, the best one, comes back


def test_lbfgs_restarts_from_the_best_image_when_the_loss_climbs():
    content, style = load_image(blob(), 24), load_image(stripes(), 24)
    optimiser = PixelOptimiser(objective_for(content, [style]), content, "lbfgs", lr=1e6)  # a wild first step
    optimiser.step()
    assert not torch.equal(optimiser.image.detach(), content) and optimiser.opt.state
    climbed = optimiser.step()["total"]  # evaluates the wild image: far worse than the start
    assert climbed > optimiser.best_loss * (1 + PixelOptimiser.RESTART_RISE)
    assert torch.equal(optimiser.image.detach(), content) and not optimiser.opt.state  # back at the best, memory reset


def test_style_targets_blend_the_gram_matrices_of_several_styles():
    content, a, b = load_image(blob(), 24), load_image(stripes(), 24), load_image(blob()[::-1].copy(), 24)
    only_a = objective_for(content, [a, b], blend=(1.0, 0.0)).style_targets
    mixed = objective_for(content, [a, b], blend=(0.25, 0.75)).style_targets
    net = build_features("random", ["scale3"])
    for name in only_a:
        features_a, features_b = net(a, [name])[name], net(b, [name])[name]
        assert torch.allclose(only_a[name], gram(features_a), atol=1e-6)
        assert torch.allclose(mixed[name], 0.25 * gram(features_a) + 0.75 * gram(features_b), atol=1e-6)


def test_coarse_to_fine_sizes():
    assert auto_levels(512, 128) == 3 and auto_levels(1024, 128) == 4 and auto_levels(200, 128) == 1
    assert scale_sizes((300, 400), 3) == [(75, 100), (150, 200), (300, 400)]
    assert steps_per_level(150, 3) == [600, 300, 150] and steps_per_level(7, 1) == [7]


def test_stylize_returns_a_pil_image_of_the_contents_shape_and_reports_every_step(tmp_path):
    seen = []
    config = StyleConfig(**TINY, scales=2, save_every=2)
    image = stylize(stripes(), [blob()], config, save_dir=tmp_path, on_step=seen.append)
    assert isinstance(image, Image.Image) and image.size == (24, 17)  # content is 28x20, longer side 24
    assert [s.step for s in seen] == [1, 2, 3, 4, 5, 6]  # 4 at the coarse size, then 2 at the full size
    assert [s.size for s in seen] == [(8, 12)] * 4 + [(17, 24)] * 2
    assert set(seen[0].losses) == {"total", "content", "style", "tv"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["00002-12x8.png", "00004-12x8.png", "00006-24x17.png"]


def test_same_seed_same_image_and_init_choices_differ():
    config = StyleConfig(**TINY, scales=1, init="noise")
    first, second = stylize(blob(), stripes(), config), stylize(blob(), stripes(), config)
    assert np.array_equal(np.asarray(first), np.asarray(second))
    from_content = stylize(blob(), stripes(), StyleConfig(**TINY, scales=1, init="content"))
    assert not np.array_equal(np.asarray(first), np.asarray(from_content))


def test_preserve_colour_keeps_the_contents_colours():
    content = blob()  # warm, orange-ish colours
    style = stripes(colour=(40, 60, 230))  # blue
    plain = load_image(np.asarray(stylize(content, style, StyleConfig(**TINY, scales=1))), 24)
    kept = load_image(np.asarray(stylize(content, style, StyleConfig(**TINY, scales=1, preserve_colour=True))), 24)
    reference = load_image(content, 24)
    chroma = lambda x: to_yiq(x)[:, 1:]  # noqa: E731
    assert (chroma(kept) - chroma(reference)).abs().mean() < 0.5 * (chroma(plain) - chroma(reference)).abs().mean()
    assert (chroma(kept) - chroma(reference)).abs().mean() < 0.02


def test_vgg19_path_runs_end_to_end_on_a_weight_file_of_the_standard_layout(tmp_path, capsys):
    weights = tmp_path / "vgg19.pth"
    torch.save(random_vgg19_state(seed=0), weights)
    for name, picture in (("c.png", blob()), ("s.png", stripes())):
        Image.fromarray(picture).save(tmp_path / name)
    out = tmp_path / "out" / "result.jpg"
    code = main(["stylize", str(tmp_path / "c.png"), str(tmp_path / "s.png"), "-o", str(out), "--size", "32",
                 "--steps", "2", "--scales", "1", "--features", "vgg19", "--weights", str(weights), "--quiet"])
    assert code == 0, capsys.readouterr().err
    assert Image.open(out).size == (32, 23)


def test_cli_random_features_with_two_styles_and_save_every(tmp_path, capsys):
    for name, picture in (("c.png", blob()), ("s1.png", stripes()), ("s2.png", stripes(colour=(40, 200, 40)))):
        Image.fromarray(picture).save(tmp_path / name)
    out = tmp_path / "result.png"
    code = main(["stylize", str(tmp_path / "c.png"), str(tmp_path / "s1.png"), str(tmp_path / "s2.png"),
                 "-o", str(out), "--size", "24", "--steps", "2", "--scales", "2", "--style-blend", "0.7,0.3",
                 "--save-every", "3", "--precision", "fp32", "--quiet"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "note: using random features" in captured.err  # auto mode, no weights: announced fallback
    assert Image.open(out).size == (24, 17)
    # 4 steps at 12 px, then 2 at 24 px: every third step is the third (coarse) and the sixth (full size)
    assert sorted(p.name for p in (tmp_path / "result-steps").iterdir()) == ["00003-12x8.png", "00006-24x17.png"]


@pytest.mark.parametrize("extra, message", [
    (["-o", "{tmp}/out.gif"], "use one of .png"),
    (["-o", "{tmp}/c.png"], "is one of the input images"),
    (["-o", "{tmp}/o.png", "--style-blend", "1,2"], "--style-blend has 2 values for 1 style images"),
    (["-o", "{tmp}/o.png", "--size", "0"], "--size must be a whole number from 16 to 4,096, got 0"),
    (["-o", "{tmp}/o.png", "--style-layers", "relu9_9"], "random has no layer 'relu9_9'"),
    (["-o", "{tmp}/o.png", "--weights", "{tmp}/absent.pth"], "absent.pth: no such file"),
])
def test_cli_bad_input_gives_one_line_errors(tmp_path, capsys, extra, message):
    Image.fromarray(blob()).save(tmp_path / "c.png")
    Image.fromarray(stripes()).save(tmp_path / "s.png")
    extra = [e.format(tmp=tmp_path) for e in extra]
    features = ["--features", "vgg19"] if "--weights" in extra else ["--features", "random"]
    code = main(["stylize", str(tmp_path / "c.png"), str(tmp_path / "s.png"), "--size", "16", "--steps", "1",
                 "--quiet", *features, *extra])
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1, err
    assert Image.open(tmp_path / "c.png").size == (28, 20)  # the input is untouched


def test_unreadable_images_are_named_in_the_error(tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG not really")
    with pytest.raises(GanforgeError, match="broken.png: "):
        stylize(broken, stripes(), StyleConfig(**TINY))
    with pytest.raises(GanforgeError, match="missing.jpg: no such image file"):
        stylize(tmp_path / "missing.jpg", stripes(), StyleConfig(**TINY))
