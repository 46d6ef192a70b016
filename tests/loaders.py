"""A one-epoch DataLoader over the same sampler as training's RunLoader, for tests that look at
one epoch's batches (the library itself keeps one loader for the whole run)."""
from __future__ import annotations

import torch
from torch.utils.data import DataLoader

from cyclegan.data.unaligned import LOADER, EpochSampler, UnalignedDataset, item_seed


def epoch_loader(dataset: UnalignedDataset, *, batch_size: int, seed: int, epoch: int,
                 shuffle: bool, start_batch: int = 0, num_workers: int = 0,
                 rank: int = 0, world_size: int = 1, pin_memory: bool = False,
                 drop_last: bool = False) -> DataLoader:
    sampler = EpochSampler(len(dataset), seed, epoch, shuffle, start_batch * batch_size, rank, world_size)
    # A private generator: otherwise creating the loader draws from torch's global RNG, and a
    # resumed run (which creates one more loader) would see different dropout/penalty noise.
    generator = torch.Generator().manual_seed(item_seed(seed, epoch, 0, LOADER))
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, num_workers=num_workers,
                      pin_memory=pin_memory, generator=generator, drop_last=drop_last)
