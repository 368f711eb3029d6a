"""VGG19 loading: torchvision's key names and shapes, wrong files, the hub cache, and the offline message."""

import urllib.error

import pytest
import torch
import torch.nn.functional as F

from ganforge.cli import main
from ganforge.errors import GanforgeError
from ganforge.style import vgg
from ganforge.style.networks import choose_features


@pytest.fixture(scope="module")
def torchvision_state():
    """What torchvision's vgg19-dcbb9e9d.pth holds: features.N (real shapes, random values) and classifier keys."""
    state = vgg.random_vgg19_state(seed=0)
    for index in (0, 3, 6):  # the classifier is ignored; small stand-ins keep the test fast
        state[f"classifier.{index}.weight"] = torch.zeros(4, 4)
        state[f"classifier.{index}.bias"] = torch.zeros(4)
    return state


@pytest.fixture(scope="module")
def weight_file(torchvision_state, tmp_path_factory):
    path = tmp_path_factory.mktemp("weights") / "vgg19-copy.pth"
    torch.save(torchvision_state, path)
    return path


def test_layer_names_follow_torchvisions_feature_indices():
    names = vgg.LAYER_NAMES
    assert len(names) == 37  # features.0 .. features.36
    positions = {"conv1_1": 0, "relu1_1": 1, "pool1": 4, "conv2_1": 5, "conv3_1": 10, "conv4_1": 19,
                 "conv4_2": 21, "relu4_2": 22, "conv5_1": 28, "relu5_1": 29, "conv5_4": 34, "pool5": 36}
    for name, index in positions.items():
        assert names[index] == name


def test_loader_maps_torchvision_keys_onto_named_layers(torchvision_state):
    net = vgg.VGG19Features("relu5_1")
    net.load_torchvision_state(torchvision_state, "test")
    assert torch.equal(net.layers.conv1_1.weight, torchvision_state["features.0.weight"])
    assert torch.equal(net.layers.conv4_2.bias, torchvision_state["features.21.bias"])
    assert torch.equal(net.layers.conv5_1.weight, torchvision_state["features.28.weight"])
    # The first layer sees ImageNet-normalised input: images in [-1, 1] -> [0, 1] -> (x - mean) / std.
    x = torch.rand(1, 3, 8, 8) * 2 - 1
    normalised = ((x + 1) / 2 - torch.tensor(vgg.IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(
        vgg.IMAGENET_STD).view(1, 3, 1, 1)
    expected = F.conv2d(normalised, torchvision_state["features.0.weight"], torchvision_state["features.0.bias"],
                        padding=1)
    assert torch.allclose(net(x, ["conv1_1"])["conv1_1"], expected, atol=1e-5)


def test_network_is_cut_after_the_last_layer_used():
    net = vgg.VGG19Features("relu4_2")
    assert net.names[-1] == "relu4_2"
    assert not hasattr(net.layers, "conv4_3") and not hasattr(net.layers, "conv5_1")
    with pytest.raises(GanforgeError, match="unknown VGG19 layer"):
        vgg.VGG19Features("conv6_1")


def test_wrong_files_are_rejected_with_a_clear_message(torchvision_state, tmp_path):
    net = vgg.VGG19Features("relu2_1")
    missing = {k: v for k, v in torchvision_state.items() if k != "features.5.weight"}
    with pytest.raises(GanforgeError, match=r"not a torchvision VGG19 weight file \(no 'features.5.weight'\)"):
        net.load_torchvision_state(missing, "bad.pth")
    wrong_shape = dict(torchvision_state, **{"features.0.weight": torch.zeros(64, 1, 3, 3)})
    with pytest.raises(GanforgeError, match=r"features.0.weight has shape \(64, 1, 3, 3\)"):
        net.load_torchvision_state(wrong_shape, "bad.pth")

    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"this is not a weight file")
    with pytest.raises(GanforgeError, match="garbage.pth: not a readable weight file"):
        vgg.read_weight_file(garbage)
    not_a_state_dict = tmp_path / "list.pth"
    torch.save([1, 2, 3], not_a_state_dict)
    with pytest.raises(GanforgeError, match="expected a state dict of tensors"):
        vgg.read_weight_file(not_a_state_dict)
    with pytest.raises(GanforgeError, match="no such file"):
        vgg.read_weight_file(tmp_path / "absent.pth")


def test_offline_message_names_the_url_and_the_cache_path(monkeypatch):
    with pytest.raises(vgg.WeightsUnavailable) as err:
        vgg.build_vgg19("relu1_1")  # conftest: torch.hub's download fails as with no network
    message = str(err.value)
    assert vgg.WEIGHTS_URL in message and str(vgg.cached_weights_path()) in message and "--weights FILE" in message
    assert "\n" not in message

    def must_not_download() -> None:
        raise AssertionError("downloaded although download=False")

    monkeypatch.setattr(vgg, "_download", must_not_download)
    with pytest.raises(vgg.WeightsUnavailable):
        vgg.ensure_cached(download=False)


def test_download_goes_through_torch_hub_into_its_cache(monkeypatch, torchvision_state):
    calls = []

    def fake_hub_download(url, **kwargs):
        calls.append((url, kwargs))
        vgg.cached_weights_path().parent.mkdir(parents=True, exist_ok=True)
        torch.save(torchvision_state, vgg.cached_weights_path())
        return torchvision_state

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", fake_hub_download)
    net = vgg.build_vgg19("relu1_1")
    assert calls and calls[0][0] == vgg.WEIGHTS_URL
    assert calls[0][1]["weights_only"] is True and calls[0][1]["check_hash"] is True
    assert torch.equal(net.layers.conv1_1.weight, torchvision_state["features.0.weight"])
    assert not any(p.requires_grad for p in net.parameters())
    vgg.build_vgg19("relu1_1")  # now served from the cache, no second download
    assert len(calls) == 1


def test_failed_download_gives_the_offline_message_with_the_reason(monkeypatch):
    def unreachable(url, **kwargs):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", unreachable)
    with pytest.raises(vgg.WeightsUnavailable, match="the download failed: .*Name or service not known"):
        vgg.ensure_cached()


def test_auto_features_fall_back_to_random_and_say_so():
    notes = []
    assert choose_features("auto", None, True, notes.append) == "random"
    assert len(notes) == 1 and "random features" in notes[0] and vgg.WEIGHTS_URL in notes[0]
    assert choose_features("random", None, True, notes.append) == "random" and len(notes) == 1


def test_cli_vgg19_without_weights_prints_the_offline_message(tmp_path, capsys):
    from PIL import Image

    for name in ("c.png", "s.png"):
        Image.new("RGB", (16, 16), (120, 60, 30)).save(tmp_path / name)
    code = main(["stylize", str(tmp_path / "c.png"), str(tmp_path / "s.png"), "-o", str(tmp_path / "o.png"),
                 "--features", "vgg19", "--size", "16", "--steps", "1", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("ganforge stylize: error: VGG19 ImageNet weights are not available: fetch " + vgg.WEIGHTS_URL)
    assert not (tmp_path / "o.png").exists()
