"""Held-out translation scores against scikit-image's reference implementations and closed forms."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from ganforge.metrics.paired import l1_error, psnr, sharpness, ssim


def _pair(channels: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    a = torch.rand(3, channels, 24, 20, generator=g) * 2 - 1
    b = (a + 0.3 * torch.randn(a.shape, generator=g)).clamp(-1, 1)
    return a, b


@pytest.mark.parametrize("channels", [1, 3])
def test_ssim_and_psnr_match_scikit_image(channels: int) -> None:
    a, b = _pair(channels)
    ours_ssim, ours_psnr = ssim(a, b), psnr(a, b)
    for i in range(len(a)):
        x = ((a[i] + 1) / 2).permute(1, 2, 0).double().numpy()
        y = ((b[i] + 1) / 2).permute(1, 2, 0).double().numpy()
        ref = structural_similarity(x, y, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                    data_range=1.0, channel_axis=2)
        assert float(ours_ssim[i]) == pytest.approx(ref, abs=1e-6)
        assert float(ours_psnr[i]) == pytest.approx(peak_signal_noise_ratio(y, x, data_range=1.0), abs=1e-4)


def test_identical_images_score_perfectly_and_l1_is_in_pixel_units() -> None:
    a, _ = _pair(3)
    assert torch.allclose(ssim(a, a), torch.ones(3)) and (psnr(a, a) >= 99).all()
    assert torch.allclose(l1_error(torch.full((1, 1, 4, 4), -1.0), torch.full((1, 1, 4, 4), 0.0)), torch.tensor([0.5]))


def test_blur_lowers_sharpness() -> None:
    a, _ = _pair(3)
    blurred = F.avg_pool2d(F.pad(a, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    assert (sharpness(blurred) < 0.5 * sharpness(a)).all()
