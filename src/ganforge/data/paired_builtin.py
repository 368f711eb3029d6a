"""Built-in paired tasks, made offline from images that installed packages ship.

* edges2digits  edge map -> scikit-learn digit (1 channel)
* masks2shapes  colour-coded label map -> rendered shapes on varied backgrounds
* edges2photo   edge map -> crop of a scikit-image sample photo
* gray2color    grey crop -> colour crop of a scikit-image sample photo
* thick-digits  scikit-learn digit -> the same digit with thicker strokes (1 channel)
* circles2squares  a circle -> a square of the same colour, place and size, on the same background
* mirror-digits  scikit-learn digit -> its mirror image (1 channel): every output pixel comes from the far side

The last three are made for unpaired translation (--model cyclegan), which trains on their two sides
without the pairing and scores on the held-out pairs: a hidden ground truth.

Each has a "train" and a disjoint "heldout" split: other digits, other renders, other photo regions.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ganforge.data.builtin import SHAPE_NAMES, _set_channels, _shape_mask, digits
from ganforge.data.paired import PairedDataset, make_pairs
from ganforge.errors import GanforgeError
from ganforge.registry import Registry

# name -> (resolution, channels, split) -> PairedDataset; the tasks below register themselves as this module loads
PAIRED_TASKS: Registry = Registry("built-in paired task")

DIGITS_HELDOUT = 297  # of scikit-learn's 1,797 digits
PHOTO_CROPS = {"train": 2000, "heldout": 200}
SHAPE_RENDERS = {"train": 4000, "heldout": 400}
PHOTOS = ["astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry", "hubble_deep_field",
          "stereo_motorcycle"]
HELDOUT_STRIP = 0.3  # the right-most 30% of each photo is never cropped for training
# label map colours: background, then one per shape kind (as in colour-coded segmentation data sets)
PALETTE = np.array([[0, 0, 0], [230, 25, 75], [60, 180, 75], [0, 130, 200], [255, 225, 25], [145, 30, 180]],
                   np.uint8)


def not_a_data_folder(source: str, exists: bool, takes: str) -> GanforgeError:
    """The error for a --data that is neither a folder nor a built-in task: what it is, what is taken."""
    what = "is a file" if exists else "no such folder"
    return GanforgeError(f"{source}: {what}; {takes} or a built-in task ({', '.join(PAIRED_TASKS.names())})")


def _check_split(split: str) -> None:
    if split not in ("train", "heldout"):
        raise ValueError(f"split must be 'train' or 'heldout', got {split!r}")


def edge_map(grey: torch.Tensor, threshold: float = 0.25) -> torch.Tensor:
    """Thin edges of (N, 1, H, W) floats: Gaussian blur, Sobel, non-maximum suppression, threshold.

    A simplified Canny detector (no hysteresis). Returns uint8 (N, H, W, 1): 255 on edges, 0 elsewhere;
    `threshold` is relative to each image's strongest gradient."""
    x = grey.float()
    t = torch.arange(-2, 3, dtype=torch.float32)
    g = torch.exp(-(t**2) / 2)
    g = (g / g.sum()).view(1, 1, 1, 5)
    x = F.conv2d(F.pad(x, (2, 2, 0, 0), mode="replicate"), g)
    x = F.conv2d(F.pad(x, (0, 0, 2, 2), mode="replicate"), g.transpose(2, 3))
    sobel = torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]]).view(1, 1, 3, 3)
    padded = F.pad(x, (1, 1, 1, 1), mode="replicate")
    gx, gy = F.conv2d(padded, sobel), F.conv2d(padded, sobel.transpose(2, 3))
    magnitude = torch.sqrt(gx**2 + gy**2)
    # keep a pixel only where it is the maximum along its gradient direction (4 quantised directions)
    angle = torch.rad2deg(torch.atan2(gy, gx)) % 180
    direction = ((angle + 22.5) // 45).long() % 4  # 0: horizontal gradient, 1: 45, 2: vertical, 3: 135
    m = F.pad(magnitude, (1, 1, 1, 1))
    h, w = magnitude.shape[-2:]
    offsets = [((0, 1), (0, -1)), ((1, 1), (-1, -1)), ((1, 0), (-1, 0)), ((1, -1), (-1, 1))]
    keep = torch.zeros_like(magnitude, dtype=torch.bool)
    for d, ((dy1, dx1), (dy2, dx2)) in enumerate(offsets):
        n1 = m[..., 1 + dy1 : 1 + dy1 + h, 1 + dx1 : 1 + dx1 + w]
        n2 = m[..., 1 + dy2 : 1 + dy2 + h, 1 + dx2 : 1 + dx2 + w]
        keep |= (direction == d) & (magnitude >= n1) & (magnitude >= n2)
    strongest = magnitude.amax(dim=(1, 2, 3), keepdim=True).clamp(min=1e-6)
    edges = keep & (magnitude > threshold * strongest)
    return (edges.to(torch.uint8) * 255).permute(0, 2, 3, 1).contiguous()


def _grey(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, H, W, C) -> float (N, 1, H, W) in [0, 1]."""
    return _set_channels(images, 1).permute(0, 3, 1, 2).float() / 255


@PAIRED_TASKS.register("edges2digits")
def edges2digits(resolution: int = 32, channels: int = 1, split: str = "train") -> PairedDataset:
    """Edge maps of the scikit-learn digits -> the digits; 297 held-out digits never seen in training."""
    _check_split(split)
    data = digits(resolution=resolution, channels=channels)
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(4))
    index = order[:DIGITS_HELDOUT] if split == "heldout" else order[DIGITS_HELDOUT:]
    targets = data.images[index]
    names = [f"digit-{int(i):04d}-{int(data.labels[i])}" for i in index]
    return make_pairs(edge_map(_grey(targets)), targets, names, name="edges2digits")


def render_labelled_shapes(count: int, resolution: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """1-2 shapes of random kind and colour on gradient backgrounds: uint8 label maps (N, R, R, 3) and images."""
    rng = np.random.default_rng(seed)
    supersample = 2
    size = resolution * supersample
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    masks = np.empty((count, resolution, resolution, 3), np.uint8)
    images = np.empty((count, resolution, resolution, 3), np.uint8)
    for i in range(count):
        c0, c1 = rng.uniform(0, 1, 3), rng.uniform(0, 1, 3)
        angle = rng.uniform(0, 2 * np.pi)
        t = np.clip(0.5 + (np.cos(angle) * (xx - 0.5) + np.sin(angle) * (yy - 0.5)), 0, 1)[..., None]
        canvas = c0 * (1 - t) + c1 * t
        labels = np.zeros((size, size), np.int64)
        for _ in range(rng.integers(1, 3)):
            kind = int(rng.integers(0, len(SHAPE_NAMES)))
            colour = rng.uniform(0, 1, 3)
            while np.abs(colour - (c0 + c1) / 2).sum() < 0.6:  # visible against the background
                colour = rng.uniform(0, 1, 3)
            r = rng.uniform(0.15, 0.28)
            cy, cx = rng.uniform(r, 1 - r, 2)
            mask = _shape_mask(SHAPE_NAMES[kind], yy, xx, cy, cx, r)
            canvas[mask] = colour
            labels[mask] = kind + 1
        images[i] = np.round(canvas.reshape(resolution, supersample, resolution, supersample, 3).mean(axis=(1, 3))
                             * 255)
        masks[i] = PALETTE[labels[::supersample, ::supersample]]
    return masks, images


@PAIRED_TASKS.register("masks2shapes")
def masks2shapes(resolution: int = 32, channels: int = 3, split: str = "train") -> PairedDataset:
    """Colour-coded label maps -> shapes whose colours and backgrounds the label map does not fix."""
    _check_split(split)
    count = SHAPE_RENDERS[split]
    masks, images = render_labelled_shapes(count, resolution, seed=0 if split == "train" else 1)
    targets = _set_channels(torch.from_numpy(images), channels)
    return make_pairs(torch.from_numpy(masks), targets, [f"shapes-{i:05d}" for i in range(count)],
                      name="masks2shapes")


def _sample_photos() -> list[np.ndarray]:
    try:
        import skimage.data
    except ImportError:
        raise GanforgeError('the photo tasks (edges2photo, gray2color) use scikit-image\'s sample photos: '
                            'pip install "ganforge[photos]" (or scikit-image)') from None
    photos = []
    for name in PHOTOS:
        image = getattr(skimage.data, name)()
        photos.append(image[0] if isinstance(image, tuple) else image)  # stereo_motorcycle: the left view
    return photos


def photo_crops(resolution: int, split: str, seed: int = 0) -> torch.Tensor:
    """uint8 (N, R, R, 3) random crops (1-2x the output size, rescaled) of the sample photos.

    Training crops come from the left 70% of each photo, held-out crops from the right 30%."""
    _check_split(split)
    rng = np.random.default_rng(seed + (0 if split == "train" else 1))
    photos = []
    for photo in _sample_photos():
        image = Image.fromarray(photo)
        scale = 4 * resolution / min(image.size)  # a crop of 1-2x the output size covers 1/4-1/2 of the short side
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)
        photos.append(image)
    crops = []
    for i in range(PHOTO_CROPS[split]):
        image = photos[i % len(photos)]
        split_x = round(image.width * (1 - HELDOUT_STRIP))
        left, right = (0, split_x) if split == "train" else (split_x, image.width)
        size = int(rng.integers(resolution, min(2 * resolution, right - left, image.height) + 1))
        x = int(rng.integers(left, right - size + 1))
        y = int(rng.integers(0, image.height - size + 1))
        crop = image.crop((x, y, x + size, y + size)).resize((resolution, resolution), Image.Resampling.LANCZOS)
        crops.append(np.asarray(crop, dtype=np.uint8))
    return torch.from_numpy(np.stack(crops))


@PAIRED_TASKS.register("edges2photo")
def edges2photo(resolution: int = 64, channels: int = 3, split: str = "train") -> PairedDataset:
    """Edge maps -> crops of scikit-image's sample photos (astronaut, cat, coffee, rocket, ...)."""
    photos = photo_crops(resolution, split)
    names = [f"photo-crop-{i:05d}" for i in range(len(photos))]
    return make_pairs(edge_map(_grey(photos)), _set_channels(photos, channels), names, name="edges2photo")


@PAIRED_TASKS.register("gray2color")
def gray2color(resolution: int = 64, channels: int = 3, split: str = "train") -> PairedDataset:
    """Grey crops -> the same crops in colour (colourisation)."""
    photos = photo_crops(resolution, split)
    names = [f"photo-crop-{i:05d}" for i in range(len(photos))]
    return make_pairs(_set_channels(photos, 1), _set_channels(photos, channels), names, name="gray2color")


def _grey_digits(resolution: int, split: str) -> tuple[torch.Tensor, list[str]]:
    """uint8 (N, R, R, 1) grey digits of one split (the held-out digits are edges2digits's) and their names."""
    _check_split(split)
    data = digits(resolution=resolution, channels=1)
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(4))
    index = order[:DIGITS_HELDOUT] if split == "heldout" else order[DIGITS_HELDOUT:]
    return data.images[index], [f"digit-{int(i):04d}-{int(data.labels[i])}" for i in index]


def thicken(images: torch.Tensor, resolution: int) -> torch.Tensor:
    """uint8 (N, H, W, 1) strokes dilated by a (2 * resolution // 16 + 1)-px square: 2 px each side at 32 px."""
    k = 2 * max(1, resolution // 16) + 1
    x = images.permute(0, 3, 1, 2).float()
    return F.max_pool2d(x, k, stride=1, padding=k // 2).to(torch.uint8).permute(0, 2, 3, 1).contiguous()


@PAIRED_TASKS.register("thick-digits")
def thick_digits(resolution: int = 32, channels: int = 1, split: str = "train") -> PairedDataset:
    """Digits -> the same digits with thicker strokes; the held-out split as edges2digits's."""
    thin, names = _grey_digits(resolution, split)
    return make_pairs(_set_channels(thin, channels), _set_channels(thicken(thin, resolution), channels), names,
                      name="thick-digits")


@PAIRED_TASKS.register("mirror-digits")
def mirror_digits(resolution: int = 32, channels: int = 1, split: str = "train") -> PairedDataset:
    """Digits -> their left-right mirror images; the held-out split as edges2digits's.

    Unlike thickening, no output pixel depends on its neighbourhood in the input, so a few pairs teach a
    convolutional translator less: the task where many unpaired images should add the most."""
    images, names = _grey_digits(resolution, split)
    return make_pairs(_set_channels(images, channels), _set_channels(images.flip(2).contiguous(), channels), names,
                      name="mirror-digits")


def render_circles_and_squares(count: int, resolution: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """uint8 (N, R, R, 3) twice: a circle, and a square of the same colour, centre and size, on one background."""
    rng = np.random.default_rng(seed)
    supersample = 2
    size = resolution * supersample
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    sides = {kind: np.empty((count, resolution, resolution, 3), np.uint8) for kind in ("circle", "square")}
    for i in range(count):
        c0, c1 = rng.uniform(0, 1, 3), rng.uniform(0, 1, 3)
        angle = rng.uniform(0, 2 * np.pi)
        t = np.clip(0.5 + (np.cos(angle) * (xx - 0.5) + np.sin(angle) * (yy - 0.5)), 0, 1)[..., None]
        background = c0 * (1 - t) + c1 * t
        colour = rng.uniform(0, 1, 3)
        while np.abs(colour - (c0 + c1) / 2).sum() < 0.6:  # visible against the background
            colour = rng.uniform(0, 1, 3)
        r = rng.uniform(0.18, 0.3)
        cy, cx = rng.uniform(r, 1 - r, 2)
        for kind, images in sides.items():
            canvas = background.copy()
            canvas[_shape_mask(kind, yy, xx, cy, cx, r)] = colour
            images[i] = np.round(canvas.reshape(resolution, supersample, resolution, supersample, 3)
                                 .mean(axis=(1, 3)) * 255)
    return sides["circle"], sides["square"]


@PAIRED_TASKS.register("circles2squares")
def circles2squares(resolution: int = 32, channels: int = 3, split: str = "train") -> PairedDataset:
    """A circle -> a square of the same colour, position and size on the same background; 400 held-out renders."""
    _check_split(split)
    count = SHAPE_RENDERS[split] // 2
    circles, squares = render_circles_and_squares(count, resolution, seed=2 if split == "train" else 3)
    return make_pairs(_set_channels(torch.from_numpy(circles), channels),
                      _set_channels(torch.from_numpy(squares), channels),
                      [f"shape-{i:05d}" for i in range(count)], name="circles2squares")
