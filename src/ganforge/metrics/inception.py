"""InceptionV3 as the FID literature uses it, in plain torch, loading the standard FID weights file.

FID numbers are only comparable when the network, its weights and the resize rule are the same. This
is the TensorFlow 2015-12-05 Inception graph as ported by pytorch-fid (the same layer names and shapes
as `pt_inception-2015-12-05-6726825d.pth`, which torch-fidelity's file shares): torchvision-style
blocks, but average pools that ignore padding and a max pool in the last block, and a 1008-way head.
"""

from __future__ import annotations

import os
import urllib.error
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from ganforge.errors import GanforgeError

WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"
WEIGHTS_URL = f"https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/{WEIGHTS_FILE}"
WEIGHTS_HASH_PREFIX = "6726825d"  # first hex digits of the file's sha256 (torch.hub convention)
INPUT_SIZE = 299
RESIZE_RULES = ("pytorch-fid", "torch-fidelity")


class BasicConv2d(nn.Module):
    """conv (no bias) -> batch norm (eps 1e-3, as TensorFlow) -> ReLU."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int | tuple[int, int], stride: int = 1,
                 padding: int | tuple[int, int] = 0) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel_size, stride, padding, bias=False)
        self.bn = nn.BatchNorm2d(c_out, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


def _avg_pool(x: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)  # TensorFlow ignores the padding


class InceptionA(nn.Module):
    def __init__(self, c_in: int, pool_features: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(c_in, 64, 1)
        self.branch5x5_1 = BasicConv2d(c_in, 48, 1)
        self.branch5x5_2 = BasicConv2d(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(c_in, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, padding=1)
        self.branch_pool = BasicConv2d(c_in, pool_features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch1x1(x), b5, b3, self.branch_pool(_avg_pool(x))], 1)


class InceptionB(nn.Module):
    def __init__(self, c_in: int) -> None:
        super().__init__()
        self.branch3x3 = BasicConv2d(c_in, 384, 3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(c_in, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch3x3(x), b3, F.max_pool2d(x, 3, stride=2)], 1)


class InceptionC(nn.Module):
    def __init__(self, c_in: int, c7: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(c_in, 192, 1)
        self.branch7x7_1 = BasicConv2d(c_in, c7, 1)
        self.branch7x7_2 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(c_in, c7, 1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, (1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(c_in, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        d = x
        for layer in (self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4,
                      self.branch7x7dbl_5):
            d = layer(d)
        return torch.cat([self.branch1x1(x), b7, d, self.branch_pool(_avg_pool(x))], 1)


class InceptionD(nn.Module):
    def __init__(self, c_in: int) -> None:
        super().__init__()
        self.branch3x3_1 = BasicConv2d(c_in, 192, 1)
        self.branch3x3_2 = BasicConv2d(192, 320, 3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(c_in, 192, 1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        return torch.cat([b3, b7, F.max_pool2d(x, 3, stride=2)], 1)


class InceptionE(nn.Module):
    """`max_pool=True` in the last block: the ported graph max-pools there (a quirk FID depends on)."""

    def __init__(self, c_in: int, max_pool: bool) -> None:
        super().__init__()
        self.max_pool = max_pool
        self.branch1x1 = BasicConv2d(c_in, 320, 1)
        self.branch3x3_1 = BasicConv2d(c_in, 384, 1)
        self.branch3x3_2a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(c_in, 448, 1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(c_in, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        d = torch.cat([self.branch3x3dbl_3a(d), self.branch3x3dbl_3b(d)], 1)
        pooled = F.max_pool2d(x, 3, stride=1, padding=1) if self.max_pool else _avg_pool(x)
        return torch.cat([self.branch1x1(x), b3, d, self.branch_pool(pooled)], 1)


def _resize_tf1(x: torch.Tensor, size: int) -> torch.Tensor:
    """TensorFlow 1 bilinear resize without half-pixel centres (torch-fidelity's rule): src = dst * in/out."""
    for dim in (2, 3):
        n_in = x.shape[dim]
        src = torch.arange(size, device=x.device, dtype=torch.float32) * (n_in / size)
        lo = src.floor().long().clamp(max=n_in - 1)
        hi = (lo + 1).clamp(max=n_in - 1)
        shape = [1, 1, 1, 1]
        shape[dim] = size
        w = (src - lo).view(shape).to(x.dtype)
        x = x.index_select(dim, lo) * (1 - w) + x.index_select(dim, hi) * w
    return x


class FIDInceptionV3(nn.Module):
    """(N, 1 or 3, H, W) images in [-1, 1] -> (2048 pool features, 1008 logits without bias).

    `resize` picks the convention: "pytorch-fid" (bilinear, align_corners=False, on [0, 1] then
    scaled to [-1, 1]) or "torch-fidelity" (TensorFlow-1 bilinear on 0..255, then (x - 128) / 128).
    The logits omit the bias, as the original Inception Score code did."""

    has_classifier = True  # its logits can give an Inception Score

    def __init__(self, resize: str = "pytorch-fid") -> None:
        super().__init__()
        if resize not in RESIZE_RULES:
            raise GanforgeError(f"--resize must be one of {', '.join(RESIZE_RULES)}, got {resize!r}")
        self.resize = resize
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, 3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, 1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, 3)
        self.Mixed_5b = InceptionA(192, 32)
        self.Mixed_5c = InceptionA(256, 64)
        self.Mixed_5d = InceptionA(288, 64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, 128)
        self.Mixed_6c = InceptionC(768, 160)
        self.Mixed_6d = InceptionC(768, 160)
        self.Mixed_6e = InceptionC(768, 192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280, max_pool=False)
        self.Mixed_7c = InceptionE(2048, max_pool=True)
        self.fc = nn.Linear(2048, 1008)

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """Grey -> 3 channels, then the chosen resize rule to 299 px and the network's input range."""
        x = images.float()
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        if self.resize == "pytorch-fid":
            # bilinear weights sum to one, so resizing [-1, 1] equals resizing [0, 1] and then mapping 2x - 1
            return F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
        x = _resize_tf1((x + 1) * 127.5, INPUT_SIZE)
        return (x - 128) / 128

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        weights_layout = self.Conv2d_1a_3x3.conv.weight  # follow the weights' memory format (channels_last is faster)
        x = self.prepare(images)  # (N, 3, 299, 299)
        if weights_layout.is_contiguous(memory_format=torch.channels_last):
            x = x.contiguous(memory_format=torch.channels_last)
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))  # (N, 64, 147, 147)
        x = F.max_pool2d(x, 3, stride=2)  # (N, 64, 73, 73)
        x = F.max_pool2d(self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x)), 3, stride=2)  # (N, 192, 35, 35)
        for block in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b, self.Mixed_6c,
                      self.Mixed_6d, self.Mixed_6e, self.Mixed_7a, self.Mixed_7b, self.Mixed_7c):
            x = block(x)  # ... -> (N, 2048, 8, 8)
        with torch.autocast(x.device.type, enabled=False):  # the pooled features and head stay fp32
            features = x.float().mean(dim=(2, 3))  # (N, 2048)
            logits = features @ self.fc.weight.float().T  # (N, 1008)
        return features, logits

@torch.no_grad()
def fold_batchnorm(model: nn.Module) -> nn.Module:
    """Fold each eval-mode batch norm into its conv: the same function with one pass over memory fewer."""
    for module in model.modules():
        if isinstance(module, BasicConv2d) and isinstance(module.bn, nn.BatchNorm2d):
            module.conv = fuse_conv_bn_eval(module.conv.eval(), module.bn.eval())
            module.bn = nn.Identity()
    return model


def check_state_dict(state: object, source: str) -> dict[str, torch.Tensor]:
    """The file's tensors, if they have exactly the standard FID Inception names and shapes; else a clear error.

    BatchNorm's `num_batches_tracked` counters are optional (older files lack them) and reset to 0."""
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise GanforgeError(f"{source}: not a state dict of tensors (expected the FID Inception weights "
                            f"{WEIGHTS_FILE})")
    with torch.device("meta"):  # shapes only: no memory, no initialisation
        layout = FIDInceptionV3().state_dict()
    expected = {k: v.shape for k, v in layout.items() if not k.endswith("num_batches_tracked")}
    given = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    missing = sorted(set(expected) - set(given))
    unexpected = sorted(set(given) - set(expected))
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (e.g. {unexpected[0]})")
        raise GanforgeError(f"{source}: not the FID Inception weights ({WEIGHTS_FILE}): keys differ: "
                            f"{'; '.join(parts)}")
    for key, shape in expected.items():
        if given[key].shape != shape:
            raise GanforgeError(f"{source}: not the FID Inception weights: {key} has shape {tuple(given[key].shape)}, "
                                f"expected {tuple(shape)}")
    counters = {k: torch.tensor(0) for k in layout if k.endswith("num_batches_tracked")}
    return {**counters, **given}


def weights_path(weights: str | os.PathLike | None = None) -> Path:
    """A local weights file: the one given, else the torch hub cache (downloaded there once when online)."""
    if weights is not None:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise GanforgeError(f"--weights {path}: no such file")
        return path
    path = Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS_FILE
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        torch.hub.download_url_to_file(WEIGHTS_URL, str(path), hash_prefix=WEIGHTS_HASH_PREFIX, progress=False)
    except (urllib.error.URLError, OSError, RuntimeError) as err:
        reason = str(err).strip().splitlines()[0][:100] if str(err).strip() else type(err).__name__
        raise GanforgeError(f"inception-v3 needs the FID Inception weights and could not download them ({reason}): "
                            f"fetch {WEIGHTS_URL} into {path.parent}/ or pass --weights FILE") from None
    return path


def load_fid_inception(weights: str | os.PathLike | None = None, resize: str = "pytorch-fid") -> FIDInceptionV3:
    """The network with the standard weights (safe loading: tensors only), in eval mode."""
    path = weights_path(weights)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001  (any unreadable file gets the same one-line message)
        reason = str(err).strip().splitlines()[0][:120] if str(err).strip() else type(err).__name__
        raise GanforgeError(f"{path}: cannot read as a weights file: {reason}") from None
    checked = check_state_dict(state, str(path))
    with torch.device("meta"):
        model = FIDInceptionV3(resize)
    model.load_state_dict(checked, assign=True)  # takes the file's tensors as they are: no random init first
    return model.eval()
