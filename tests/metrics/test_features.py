"""Feature extractors: the registry, the random and digits extractors, user modules, precision paths."""

import pytest
import torch
from torch import nn

from ganforge.errors import GanforgeError
from ganforge.metrics.features import EXTRACTORS, create_extractor, extract_features, from_module, weights_hash


def images(n=6, channels=1, size=16, seed=0):
    return torch.rand(n, channels, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_registry_names_and_did_you_mean():
    assert {"inception-v3", "digits", "random"} <= set(EXTRACTORS.names())
    with pytest.raises(GanforgeError, match="Did you mean 'digits'"):
        create_extractor("digit")


def test_random_extractor_is_fixed_and_reacts_to_images():
    a, b = create_extractor("random"), create_extractor("random")
    assert a.weights_sha256 == b.weights_sha256
    x = images()
    fa, fb = extract_features(a, x).features, extract_features(b, x).features
    assert fa.shape == (6, 128) and torch.equal(fa, fb)
    assert not torch.allclose(fa, extract_features(a, images(seed=1)).features)
    rgb = extract_features(a, images(channels=3, size=32)).features  # any channels, any size
    assert rgb.shape == (6, 128)


def test_batches_give_the_same_features_as_one_tensor():
    extractor, x = create_extractor("random"), images(n=10)
    whole = extract_features(extractor, x, batch_size=10).features
    assert torch.allclose(extract_features(extractor, iter(x.split(3))).features, whole, atol=1e-6)


def test_bf16_features_stay_close_to_fp32():
    extractor, x = create_extractor("random"), images(n=32, size=32)
    fp32 = extract_features(extractor, x, precision="fp32").features
    bf16 = extract_features(extractor, x, precision="bf16").features
    assert ((bf16 - fp32).norm() / fp32.norm()) < 0.02


def test_user_module_and_its_provenance():
    class Pool(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(torch.ones(1))

        def forward(self, x):
            return x.mean(dim=(2, 3)) * self.scale, x.flatten(1)[:, :3]  # features and "logits"

    module = Pool()
    extractor = create_extractor(module)
    found = extract_features(extractor, images(channels=3))
    assert extractor.name == "custom:Pool" and found.features.shape == (6, 3) and found.logits.shape == (6, 3)
    before = extractor.weights_sha256
    with torch.no_grad():
        module.scale.fill_(2.0)
    assert weights_hash(module) != before  # the provenance hash follows the weights


def test_module_named_on_the_command_line(tmp_path, monkeypatch):
    (tmp_path / "my_features.py").write_text(
        "import torch\n"
        "class Net(torch.nn.Module):\n"
        "    def forward(self, x):\n"
        "        return x.flatten(1)[:, :5]\n"
        "def build():\n"
        "    return Net()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    extractor = create_extractor("my_features:build")
    assert extract_features(extractor, images()).features.shape == (6, 5)
    with pytest.raises(GanforgeError, match="cannot import"):
        create_extractor("my_features:missing")


def test_modules_that_return_images_not_vectors_are_refused():
    with pytest.raises(GanforgeError, match=r"must return \(N, D\) features"):
        extract_features(from_module(nn.Identity()), images())


def test_inception_only_options_are_refused_elsewhere():
    with pytest.raises(GanforgeError, match="--weights and --resize apply to inception-v3 only"):
        create_extractor("random", weights="x.pth")


def test_digits_extractor_reads_the_independent_classifier():
    extractor = create_extractor("digits")  # trained once and cached (shared with the classifier's own tests)
    found = extract_features(extractor, images(n=4, size=32))
    assert found.features.shape == (4, 128) and found.logits.shape == (4, 11)
    assert extractor.has_classifier and not create_extractor("random").has_classifier
