"""The FID Inception: standard weight-file layout, safe and strict loading, resize rules, offline message."""

import urllib.error

import pytest
import torch

from ganforge.errors import GanforgeError
from ganforge.metrics import inception
from ganforge.metrics.features import create_extractor, extract_features
from ganforge.metrics.inception import FIDInceptionV3, _resize_tf1, check_state_dict, fold_batchnorm, load_fid_inception

# Names and shapes as they are in pt_inception-2015-12-05-6726825d.pth (torchvision-style blocks, 1008 classes,
# no auxiliary head); the parameter count is torchvision's inception_v3 (27,161,264) minus its auxiliary head
# plus 8 more classes.
STANDARD = {
    "Conv2d_1a_3x3.conv.weight": (32, 3, 3, 3),
    "Conv2d_1a_3x3.bn.running_var": (32,),
    "Conv2d_4a_3x3.conv.weight": (192, 80, 3, 3),
    "Mixed_5b.branch_pool.conv.weight": (32, 192, 1, 1),
    "Mixed_5d.branch5x5_2.conv.weight": (64, 48, 5, 5),
    "Mixed_6a.branch3x3.conv.weight": (384, 288, 3, 3),
    "Mixed_6b.branch7x7_2.conv.weight": (128, 128, 1, 7),
    "Mixed_6e.branch7x7dbl_5.conv.weight": (192, 192, 1, 7),
    "Mixed_7a.branch7x7x3_4.conv.weight": (192, 192, 3, 3),
    "Mixed_7c.branch3x3dbl_3b.conv.weight": (384, 384, 3, 1),
    "Mixed_7c.branch_pool.bn.bias": (192,),
    "fc.weight": (1008, 2048),
    "fc.bias": (1008,),
}
PARAMETERS = 23_850_960


@pytest.fixture(scope="module")
def random_standard_state():
    """A state dict with the standard file's names and shapes, random values (BN variances positive)."""
    g = torch.Generator().manual_seed(0)
    state = {}
    with torch.device("meta"):  # shapes only
        layout = FIDInceptionV3().state_dict()
    for key, value in layout.items():
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(0)
        elif key.endswith("running_var"):
            state[key] = torch.rand(value.shape, generator=g) + 0.5
        else:
            state[key] = torch.randn(value.shape, generator=g) * 0.1
    return state


def test_layout_is_the_standard_files():
    model = FIDInceptionV3()
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    for key, shape in STANDARD.items():
        assert shapes[key] == shape, key
    assert not any(k.startswith("AuxLogits") for k in shapes)
    assert sum(p.numel() for p in model.parameters()) == PARAMETERS


@pytest.mark.parametrize("with_counters", [True, False])
def test_loads_a_file_with_the_standard_names(tmp_path, random_standard_state, with_counters):
    state = {k: v for k, v in random_standard_state.items() if with_counters or "num_batches" not in k}
    path = tmp_path / "pt_inception.pth"
    torch.save(state, path)
    model = load_fid_inception(path)
    assert torch.equal(model.Mixed_6b.branch7x7_2.conv.weight, state["Mixed_6b.branch7x7_2.conv.weight"])
    assert torch.equal(model.fc.weight, state["fc.weight"])
    assert not model.training


def test_extractor_gives_2048_features_for_small_grey_images(tmp_path, random_standard_state, one_thread):
    path = tmp_path / "w.pth"
    torch.save(random_standard_state, path)
    extractor = create_extractor("inception-v3", weights=str(path))
    images = torch.rand(1, 1, 16, 16, generator=torch.Generator().manual_seed(1)) * 2 - 1
    with one_thread():
        found = extract_features(extractor, images, precision="fp32")
    assert found.features.shape == (1, 2048) and found.logits.shape == (1, 1008)
    assert torch.isfinite(found.features).all()
    assert extractor.provenance()["weights"] == str(path)
    assert len(extractor.weights_sha256) == 16


@torch.no_grad()
def test_folding_batch_norm_into_the_convs_keeps_the_function(random_standard_state):
    with torch.device("meta"):
        model = FIDInceptionV3()
    model.load_state_dict(random_standard_state, assign=True)
    block = model.Mixed_5b.eval()
    x = torch.rand(2, 192, 9, 9, generator=torch.Generator().manual_seed(2))
    before = block(x)
    after = fold_batchnorm(block)(x)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in block.modules())
    assert torch.allclose(after, before, rtol=1e-4, atol=1e-5 * float(before.abs().max()))


def test_wrong_files_are_refused_with_the_reason(tmp_path, random_standard_state):
    missing = {k: v for k, v in random_standard_state.items() if k != "fc.weight"}
    with pytest.raises(GanforgeError, match=r"w\.pth: .*1 missing \(e\.g\. fc\.weight\)"):
        check_state_dict(missing, "w.pth")
    torchvision_style = {**random_standard_state, "AuxLogits.fc.weight": torch.zeros(1000, 768)}
    with pytest.raises(GanforgeError, match="unexpected.*AuxLogits"):
        check_state_dict(torchvision_style, "w.pth")
    reshaped = {**random_standard_state, "fc.weight": torch.zeros(1000, 2048)}
    with pytest.raises(GanforgeError, match=r"fc\.weight has shape \(1000, 2048\), expected \(1008, 2048\)"):
        check_state_dict(reshaped, "w.pth")
    torch.save({"model": missing}, tmp_path / "nested.pth")  # a checkpoint wrapping the weights is not the file
    with pytest.raises(GanforgeError, match="nested.pth: not a state dict of tensors"):
        load_fid_inception(tmp_path / "nested.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a torch file")
    with pytest.raises(GanforgeError, match="cannot read"):
        load_fid_inception(tmp_path / "junk.pth")
    with pytest.raises(GanforgeError, match="no such file"):
        load_fid_inception(tmp_path / "absent.pth")


def test_offline_without_weights_says_what_to_fetch_and_where(tmp_path, monkeypatch):
    def no_network(*args, **kwargs):
        raise urllib.error.URLError("Temporary failure in name resolution")

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    with pytest.raises(GanforgeError) as info:
        create_extractor("inception-v3")
    message = str(info.value)
    assert inception.WEIGHTS_URL in message and str(tmp_path / "hub" / "checkpoints") in message
    assert "--weights" in message and "\n" not in message


def test_weights_already_in_the_hub_cache_are_used_without_network(tmp_path, monkeypatch, random_standard_state):
    (tmp_path / "checkpoints").mkdir()
    torch.save(random_standard_state, tmp_path / "checkpoints" / inception.WEIGHTS_FILE)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    monkeypatch.setattr(torch.hub, "download_url_to_file", lambda *a, **k: pytest.fail("tried the network"))
    assert torch.equal(load_fid_inception().fc.bias, random_standard_state["fc.bias"])


def test_resize_rules():
    x = torch.tensor([[[[0.0, 1.0], [2.0, 3.0]]]])
    # TensorFlow 1 (torch-fidelity): source = destination * in/out, no half-pixel offset, edge clamped
    assert torch.allclose(_resize_tf1(x, 4)[0, 0, 0], torch.tensor([0.0, 0.5, 1.0, 1.0]))
    images = torch.rand(1, 3, 299, 299) * 2 - 1
    with torch.device("meta"):  # prepare() uses no weights
        pytorch_fid, torch_fidelity = FIDInceptionV3("pytorch-fid"), FIDInceptionV3("torch-fidelity")
    assert torch.allclose(pytorch_fid.prepare(images), images)  # already 299 px: unchanged
    tf = torch_fidelity.prepare(images)
    assert torch.allclose(tf, ((images + 1) * 127.5 - 128) / 128, atol=1e-6)  # its 0..255 -> (x - 128) / 128
    grey = pytorch_fid.prepare(torch.zeros(2, 1, 8, 8))
    assert grey.shape == (2, 3, 299, 299)
    with pytest.raises(GanforgeError, match="--resize"):
        FIDInceptionV3("nearest")
