"""The growing schedule of progressive GANs: which stage, and how far its fade-in is, after N images.

Stage 0 (the 4-pixel grid) trains for `stage_images`; every later stage first fades in over
`fade_images` (alpha 0 -> 1), then trains at full weight for `stage_images`; the last stage stays.
A pure function of the images seen, so resuming needs only that count.
"""

from __future__ import annotations


def stage_at(images_seen: int, last_stage: int, stage_images: int, fade_images: int) -> tuple[int, float]:
    """(stage, alpha) after `images_seen` training images."""
    if images_seen < stage_images or last_stage == 0:
        return 0, 1.0
    position = images_seen - stage_images
    period = fade_images + stage_images
    stage = 1 + position // period
    if stage > last_stage:
        return last_stage, 1.0
    into = position % period
    alpha = into / fade_images if fade_images and into < fade_images else 1.0
    return stage, alpha


def images_until_full_size(last_stage: int, stage_images: int, fade_images: int) -> int:
    """Images before the last stage is fully faded in (useful to size a run)."""
    return stage_images + (last_stage - 1) * (fade_images + stage_images) + fade_images if last_stage else 0
