"""Deterministic, resumable batches: an endless stream of per-epoch permutations.

The order is a pure function of (seed, epoch), so resuming needs only the position in the stream.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ganforge.images import from_uint8


class BatchStream:
    def __init__(self, images: torch.Tensor, batch_size: int, seed: int, flip: bool = False,
                 labels: torch.Tensor | None = None, position: int = 0, crop: int | None = None,
                 rank: int = 0, world_size: int = 1,
                 decode: Callable[[torch.Tensor], torch.Tensor] = from_uint8) -> None:
        self.images = images  # uint8 (N, H, W, C) (or any items `decode` understands), on the training device
        self.decode = decode  # stored items -> training tensors: uint8 images -> [-1, 1] floats by default
        # several processes (training/distributed.py): batch_size is the global batch, this process decodes
        # its rank's slice; every random draw is made for the global batch, so any world size sees the same data
        self.shard = slice(rank * batch_size // world_size, (rank + 1) * batch_size // world_size)
        self.labels = labels
        self.crop = crop  # random crops of this size when the images are stored larger
        self.batch_size = batch_size
        self.seed = seed
        self.flip = flip
        self.position = position  # number of indices consumed so far
        self._epoch = -1
        self._order = torch.empty(0, dtype=torch.long)

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def epoch(self) -> float:
        return self.position / len(self)

    def _permutation(self, epoch: int) -> torch.Tensor:
        if epoch != self._epoch:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._order = torch.randperm(len(self), generator=g)
            self._epoch = epoch
        return self._order

    def next_indices(self) -> torch.Tensor:
        n, chunks, need = len(self), [], self.batch_size
        while need:
            epoch, offset = divmod(self.position, n)
            take = min(need, n - offset)
            chunks.append(self._permutation(epoch)[offset : offset + take])
            self.position += take
            need -= take
        return torch.cat(chunks)

    def next(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(B, C, H, W) floats in [-1, 1] on the images' device, and labels (or None)."""
        idx = self.next_indices()
        total, idx = len(idx), idx[self.shard]
        batch = self.decode(self.images[idx.to(self.images.device)])
        if self.flip:
            g = torch.Generator().manual_seed(self.seed * 7919 + self.position)
            mask = (torch.rand(total, generator=g) < 0.5)[self.shard].to(batch.device)
            batch = torch.where(mask[:, None, None, None], batch.flip(3), batch)
        if self.crop is not None and self.crop < batch.shape[2]:
            batch = self._random_crop(batch, self.crop, total)
        labels = None if self.labels is None else self.labels[idx.to(self.labels.device)]
        return batch, labels

    def _random_crop(self, batch: torch.Tensor, size: int, total: int) -> torch.Tensor:
        """One random size x size window per image (all channels alike), reproducible from the position."""
        g = torch.Generator().manual_seed(self.seed * 104_729 + self.position)
        top = torch.randint(0, batch.shape[2] - size + 1, (total,), generator=g)[self.shard].tolist()
        left = torch.randint(0, batch.shape[3] - size + 1, (total,), generator=g)[self.shard].tolist()
        return torch.stack([image[:, y : y + size, x : x + size] for image, y, x in zip(batch, top, left)])
