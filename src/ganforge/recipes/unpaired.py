"""CycleGAN (Zhu et al. 2017): translation between two domains learned from unpaired images, and from a few pairs.

G_AtoB and G_BtoA each fool their domain's PatchGAN (LSGAN by default); cycle consistency
(G_BtoA(G_AtoB(a)) = a and back, L1, weight lambda = 10) ties each output to its input; the identity
term (G_AtoB(b) = b, weight 0.5 * lambda) keeps colours that need no change. D learns from a history
of 50 earlier translations, so G cannot win by jumping between modes. Where some images have a known
partner, pix2pix's L1 on those pairs is added (`--paired-weight`): the semi-supervised objective.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ganforge.config import TrainConfig
from ganforge.data.unpaired import UnpairedDataset, UnpairedStream, load_unpaired
from ganforge.errors import GanforgeError
from ganforge.images import from_uint8
from ganforge.losses.adversarial import AdversarialLoss
from ganforge.losses.factory import make_loss
from ganforge.models.patchgan import patch_grid_size
from ganforge.recipes.base import RECIPES, Recipe, Step, StepParts
from ganforge.recipes.pix2pix import as_rgb
from ganforge.runtime import autocast

SAMPLE_COLUMNS = 8


def cycle_loss(real_a: torch.Tensor, rec_a: torch.Tensor, real_b: torch.Tensor, rec_b: torch.Tensor) -> torch.Tensor:
    """||G_BtoA(G_AtoB(a)) - a||_1 + ||G_AtoB(G_BtoA(b)) - b||_1, each a mean over pixels."""
    return (rec_a.float() - real_a.float()).abs().mean() + (rec_b.float() - real_b.float()).abs().mean()


def identity_loss(real_a: torch.Tensor, same_a: torch.Tensor, real_b: torch.Tensor,
                  same_b: torch.Tensor) -> torch.Tensor:
    """||G_BtoA(a) - a||_1 + ||G_AtoB(b) - b||_1: a generator given its own target domain changes nothing."""
    return cycle_loss(real_a, same_a, real_b, same_b)


class ImagePool:
    """The history of generated images D learns from (Shrivastava et al. 2017; CycleGAN keeps 50).

    Until it is full every image goes in and back out; then each image, with probability 1/2, is swapped
    for a random stored one (which D sees instead), else passed through. Its draws come from its own seeded
    generator and it is saved with the run, so a resumed run continues exactly."""

    def __init__(self, size: int = 50, seed: int = 0) -> None:
        self.size = size
        self.stored: list[torch.Tensor] = []
        self.generator = torch.Generator().manual_seed(seed)

    def query(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) detached images -> the batch D should see."""
        if self.size == 0:
            return images
        out = []
        for image in images:
            if len(self.stored) < self.size:
                self.stored.append(image.clone())
                out.append(image)
            elif torch.rand((), generator=self.generator) < 0.5:
                slot = int(torch.randint(0, self.size, (), generator=self.generator))
                out.append(self.stored[slot])
                self.stored[slot] = image.clone()
            else:
                out.append(image)
        return torch.stack(out)

    def state_dict(self) -> dict[str, Any]:
        images = torch.stack(self.stored).cpu() if self.stored else torch.empty(0)
        return {"images": images, "rng": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any], device: torch.device) -> None:
        self.stored = [image.to(device) for image in state["images"]]
        self.generator.set_state(state["rng"])


class CycleStep:
    """One G update (both directions: adversarial + cycle + identity [+ paired L1]), then one D update (both
    domains, on real images vs the history of translations)."""

    def __init__(self, parts: StepParts, loss: AdversarialLoss, channels: tuple[int, int], pools: list[ImagePool],
                 cycle_weight: float = 10.0, identity_weight: float = 0.5, paired_weight: float = 10.0,
                 adversarial_scale: float = 1.0) -> None:
        self.parts, self.G, self.D = parts, parts.G, parts.D
        self.loss, self.device, self.precision = loss, parts.device, parts.precision
        self.ca, self.cb = channels
        self.pool_a, self.pool_b = pools
        self.cycle_weight, self.identity_weight, self.paired_weight = cycle_weight, identity_weight, paired_weight
        self.adversarial_scale = adversarial_scale

    def __call__(self, real: torch.Tensor, z: torch.Tensor | None = None, labels: torch.Tensor | None = None,
                 train_d: bool = True, train_g: bool = True) -> dict[str, torch.Tensor]:
        G, D, ca, cb = self.G, self.D, self.ca, self.cb
        a, b = real[:, :ca], real[:, ca : ca + cb]
        with autocast(self.device, self.precision):
            fake_b, fake_a = G.AtoB(a), G.BtoA(b)
            rec_a, rec_b = G.BtoA(fake_b), G.AtoB(fake_a)

        # Stage 1: both generators, D frozen
        D.requires_grad_(False)
        with autocast(self.device, self.precision):
            adv_b = self.loss.g_loss(D.B(fake_b).float())
            adv_a = self.loss.g_loss(D.A(fake_a).float())
        cycle = cycle_loss(a, rec_a, b, rec_b)
        g_loss = self.adversarial_scale * (adv_a + adv_b) + self.cycle_weight * cycle
        stats = {"loss/G_adv": (adv_a + adv_b).detach(), "loss/cycle": cycle.detach()}
        if self.identity_weight > 0 and ca == cb:
            with autocast(self.device, self.precision):
                same_a, same_b = G.BtoA(a), G.AtoB(b)
            identity = identity_loss(a, same_a, b, same_b)
            g_loss = g_loss + self.cycle_weight * self.identity_weight * identity
            stats["loss/identity"] = identity.detach()
        if real.shape[1] > ca + cb and self.paired_weight > 0:  # a batch of known pairs rides along
            pa, pb = real[:, ca + cb : 2 * ca + cb], real[:, 2 * ca + cb :]
            with autocast(self.device, self.precision):
                to_b, to_a = G.AtoB(pa), G.BtoA(pb)
            paired = (to_b.float() - pb).abs().mean() + (to_a.float() - pa).abs().mean()
            g_loss = g_loss + self.paired_weight * paired
            stats["loss/paired_L1"] = paired.detach()
        if train_g:
            self.parts.update_G(g_loss)
        D.requires_grad_(True)

        # Stage 2: each D tells its domain's real images from (remembered) translations into it
        with autocast(self.device, self.precision):
            real_b_logits, real_a_logits = D.B(b), D.A(a)
            fake_b_logits = D.B(self.pool_b.query(fake_b.detach()))
            fake_a_logits = D.A(self.pool_a.query(fake_a.detach()))
        d_loss = (self.loss.d_loss(real_a_logits.float(), fake_a_logits.float())
                  + self.loss.d_loss(real_b_logits.float(), fake_b_logits.float()))
        if train_d:
            self.parts.update_D(d_loss)
        real_logits = torch.cat([real_a_logits.detach().flatten(), real_b_logits.detach().flatten()]).float()
        fake_logits = torch.cat([fake_a_logits.detach().flatten(), fake_b_logits.detach().flatten()]).float()
        stats.update({"loss/D": d_loss.detach(), "loss/G": g_loss.detach(),
                      "D/real_prob": torch.sigmoid(real_logits).mean(),
                      "D/fake_prob": torch.sigmoid(fake_logits).mean()})
        return stats


def cycle_rows(a: torch.Tensor, b: torch.Tensor, G: nn.Module) -> torch.Tensor:
    """Four rows for one grid: A images, their translations to B, B images, their translations to A."""
    channels = max(a.shape[1], b.shape[1])
    rows = [a, G.AtoB(a).float(), b, G.BtoA(b).float()]
    return torch.cat([as_rgb(row, channels) for row in rows])


@RECIPES.register("unpaired")
class UnpairedRecipe(Recipe):
    """Two unpaired domains (plus any known pairs); the sample grid shows A, A -> B, B, B -> A rows."""

    name = "unpaired"
    wraps_d = False  # D is the pair of PatchGANs; the noise-to-image D-input remedies do not apply
    judged_by_spread = False  # translations are judged on held-out images (heldout.json), not by their spread
    dataset: UnpairedDataset

    def __init__(self, config: TrainConfig, dataset: UnpairedDataset) -> None:
        super().__init__(config, dataset)
        self.pools = [ImagePool(config.pool_size, config.seed + 11), ImagePool(config.pool_size, config.seed + 12)]
        self.device = torch.device("cpu")

    @staticmethod
    def load_data(config: TrainConfig, quiet: bool = False) -> UnpairedDataset:
        data = load_unpaired(config.data, config.resolution, config.channels, "train", config.aspect,
                             config.paired_fraction, quiet=quiet)
        assert data is not None  # a training split always exists
        return data

    def check_data(self) -> None:
        d, cfg = self.dataset, self.config
        if not isinstance(d, UnpairedDataset):
            raise GanforgeError("cyclegan trains on two domains (A_DIR:B_DIR, a folder with A/ and B/, or a built-in "
                                "task); got a single set of images")
        from ganforge.aspect import image_size

        size = image_size(cfg.resolution, cfg.aspect)
        if tuple(d.images.shape[1:3]) != size or d.b_channels != cfg.channels:
            raise GanforgeError(f"the data is {d.images.shape[1]}x{d.images.shape[2]} px with {d.b_channels} B "
                                f"channel(s) but the config says {size[0]}x{size[1]} px with {cfg.channels}")
        if patch_grid_size(min(size), cfg.patch_size) < 1:
            raise GanforgeError(f"--patch-size {cfg.patch_size} is too large for {min(size)} px images; use a "
                                "smaller one (16 or 34)")

    def batches(self, device: torch.device, batch_size: int, seed: int, rank: int = 0,
                world_size: int = 1) -> UnpairedStream:  # type: ignore[override]
        self.device = device  # where the history buffers live (load_state_dict)
        return UnpairedStream(self.dataset, device, batch_size, seed, self.config.flip, rank, world_size,
                              on_device=self.on_device)

    def model_args(self) -> dict[str, Any]:
        cfg = self.config
        return dict(resolution=cfg.resolution, in_channels=self.dataset.a_channels, out_channels=cfg.channels,
                    g_width=cfg.g_width, d_width=cfg.d_width, patch_size=cfg.patch_size, generator=cfg.generator,
                    resnet_blocks=cfg.resnet_blocks)

    def make_step(self, parts: StepParts) -> Step:
        cfg = self.config
        # the paper's G term is (D(G(x)) - 1)^2, twice lsgan's g_loss, against its cycle weight of 10
        scale = 2.0 if cfg.loss == "lsgan" else 1.0
        return CycleStep(parts, make_loss(cfg.loss, cfg.label_smoothing), (self.dataset.a_channels, cfg.channels),
                         self.pools, cfg.cycle_weight, cfg.identity_weight, cfg.paired_weight, scale)

    def noise(self, batch_size: int, generator: torch.Generator, device: torch.device) -> None:
        return None  # the generators are deterministic

    def sample_inputs(self, device: torch.device) -> dict[str, torch.Tensor]:
        d = self.dataset
        count = min(SAMPLE_COLUMNS, self.config.sample_count, len(d), len(d.b_images))
        a = torch.linspace(0, len(d) - 1, count).long()
        b = torch.linspace(0, len(d.b_images) - 1, count).long()
        return {"a": from_uint8(d.images[a]).to(device), "b": from_uint8(d.b_images[b]).to(device)}

    def sample_grid(self, G: nn.Module, inputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, int]:
        return cycle_rows(inputs["a"], inputs["b"], G), len(inputs["a"])

    def state_dict(self) -> dict[str, Any]:
        return {"pools": [pool.state_dict() for pool in self.pools]}

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        if state and "pools" in state:
            for pool, saved in zip(self.pools, state["pools"]):
                pool.load_state_dict(saved, self.device)
