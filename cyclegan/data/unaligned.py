"""Unpaired data: every A image once per epoch, each with a uniformly random B image.

The sampler hands the dataset ``(index, seed)`` pairs. The seed is a pure function of
(run seed, epoch, position in the epoch), and the dataset draws B's index, the crops and the
flips from it, so the data a step sees depends neither on worker processes nor on whether
the run was stopped and resumed in between.
"""
from __future__ import annotations

import atexit
import math
import signal
import warnings
import weakref
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from ..errors import UserError
from .images import load_rgb, shown
from .transforms import Preprocess


# What a derived seed is for, so that the streams never coincide.
ITEM, ORDER, LOADER, RANK = 0, 1, 2, 3


def item_seed(seed: int, epoch: int, position: int, purpose: int = ITEM) -> int:
    return int(np.random.SeedSequence([seed, epoch, purpose, position]).generate_state(1)[0])


# Decoding and resizing a JPEG costs more than the rest of the data path together; keeping the
# resized images in memory makes every epoch after the first nearly free. Each worker process
# holds its own cache, so the budget is per process.
DEFAULT_CACHE_BYTES = 512 * 2 ** 20


class DecodedCache:
    """Resized images kept in memory up to a byte budget; beyond it, images are decoded each time."""

    def __init__(self, budget_bytes: int):
        self.budget, self.used = budget_bytes, 0
        self.images: dict[Path, object] = {}

    def get(self, path: Path):
        return self.images.get(path)

    def put(self, path: Path, image) -> None:
        size = image.width * image.height * len(image.getbands())
        if self.used + size <= self.budget:
            self.images[path] = image
            self.used += size


class UnalignedDataset(Dataset):
    """Length max(|A|, |B|); item i is A[i mod |A|] with a random (or, serially, i mod |B|) B."""

    def __init__(self, paths_A: list[Path], paths_B: list[Path], preprocess: Preprocess,
                 serial_batches: bool = False, cache_bytes: int = DEFAULT_CACHE_BYTES):
        self.paths_A, self.paths_B = list(paths_A), list(paths_B)
        self.preprocess = preprocess
        self.serial_batches = serial_batches
        self.cache = DecodedCache(cache_bytes)

    def __len__(self) -> int:
        return max(len(self.paths_A), len(self.paths_B))

    def __getitem__(self, key: tuple[int, int]) -> dict:
        index, seed = key
        rng = np.random.default_rng(seed)
        index_A = index % len(self.paths_A)
        index_B = index % len(self.paths_B) if self.serial_batches else int(rng.integers(len(self.paths_B)))
        image_A, path_A = self._load(self.paths_A, index_A)
        image_B, path_B = self._load(self.paths_B, index_B)
        return {"A": self.preprocess.augment(image_A, rng), "B": self.preprocess.augment(image_B, rng),
                "A_paths": str(path_A), "B_paths": str(path_B)}

    def _load(self, paths: list[Path], index: int):
        """paths[index] decoded and resized, from the cache when it is there."""
        def decode(path: Path):
            return self.preprocess.prepare(load_rgb(path))
        return load_with_fallback(paths, index, decode, self.cache)


def load_with_fallback(paths: list[Path], index: int, decode, cache: "DecodedCache"):
    """Decode paths[index]; a file that passed the header check but fails to decode is
    replaced by the next one, so one bad file cannot stop a long run."""
    for offset in range(len(paths)):
        path = paths[(index + offset) % len(paths)]
        image = cache.get(path)
        if image is not None:
            return image, path
        try:
            image = decode(path)
        except Exception as exc:  # Pillow raises many types for truncated data
            warnings.warn(f"cannot decode {shown(path)} ({' '.join(str(exc).split())}); using another image instead")
            continue
        cache.put(path, image)
        return image, path
    folders = sorted({shown(p.parent) for p in paths})
    raise UserError(f"none of the {len(paths)} images in {', '.join(folders[:3])}{' ...' if len(folders) > 3 else ''} "
                    "can be decoded any more (changed since the run started?); replace the damaged files")


class EpochSampler(Sampler):
    """Yields (index, seed) for one epoch, shuffled per epoch unless ``shuffle`` is False.

    ``start`` skips positions already trained on (resume mid-epoch); ``rank``/``world_size``
    give each process a disjoint shard of the order (padded to equal length, like
    DistributedSampler).
    """

    def __init__(self, length: int, seed: int, epoch: int, shuffle: bool = True, start: int = 0,
                 rank: int = 0, world_size: int = 1):
        self.length, self.seed, self.epoch, self.shuffle = length, seed, epoch, shuffle
        self.start, self.rank, self.world_size = start, rank, world_size

    def order(self) -> list[int]:
        if self.shuffle:
            generator = torch.Generator().manual_seed(item_seed(self.seed, self.epoch, 0, ORDER))
            order = torch.randperm(self.length, generator=generator).tolist()
        else:
            order = list(range(self.length))
        per_rank = math.ceil(self.length / self.world_size)
        order += order[: per_rank * self.world_size - self.length]
        return order[self.rank::self.world_size]

    def __iter__(self) -> Iterator[tuple[int, int]]:
        for position, index in enumerate(self.order()):
            if position >= self.start:
                yield index, item_seed(self.seed, self.epoch, position * self.world_size + self.rank)

    def __len__(self) -> int:
        return max(0, math.ceil(self.length / self.world_size) - self.start)


def leave_stopping_to_the_main_process(worker_id: int) -> None:
    """Data-loading workers ignore Ctrl-C, SIGTERM and SIGHUP. ``timeout``, systemd and Slurm
    signal the whole process group, and a closed terminal hangs up all of it: a worker that died
    of it would make the main process fail with a traceback before it could save. The main
    process finishes its step, saves, and then shuts the workers down itself (they also exit
    when it does)."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)


# Every RunLoader not yet closed. Its workers ignore SIGTERM (above), so multiprocessing's own
# exit handler, which terminates daemonic children and then joins them, would wait forever on
# them; this one, registered after it and so run before it, tells them to stop first.
_OPEN_LOADERS: "weakref.WeakSet[RunLoader]" = weakref.WeakSet()


@atexit.register
def _close_open_loaders() -> None:
    for loader in list(_OPEN_LOADERS):
        loader.close()


class RunLoader:
    """One DataLoader for the whole run, so worker processes (and their image caches) persist
    across epochs; ``for_epoch`` points its sampler at an epoch's order and start.

    ``close()`` (or ``with RunLoader(...) as loader:``) ends the workers; a loader left open
    is closed when it is collected or at interpreter exit."""

    def __init__(self, dataset, *, batch_size: int, seed: int, shuffle: bool, num_workers: int = 0,
                 rank: int = 0, world_size: int = 1, pin_memory: bool = False, drop_last: bool = False):
        self.batch_size = batch_size
        self.sampler = EpochSampler(len(dataset), seed, 1, shuffle, 0, rank, world_size)
        # A private generator: otherwise creating the loader draws from torch's global RNG, and a
        # resumed run (which creates one more loader) would see different dropout/penalty noise.
        generator = torch.Generator().manual_seed(item_seed(seed, 0, 0, LOADER))
        self.loader = DataLoader(dataset, batch_size=batch_size, sampler=self.sampler, num_workers=num_workers,
                                 pin_memory=pin_memory, generator=generator, persistent_workers=num_workers > 0,
                                 worker_init_fn=leave_stopping_to_the_main_process, drop_last=drop_last)
        _OPEN_LOADERS.add(self)

    def close(self) -> None:
        """End the worker processes: they leave their loop when told to, no signal needed."""
        iterator = getattr(self.loader, "_iterator", None)
        if iterator is not None and hasattr(iterator, "_shutdown_workers"):
            workers = list(getattr(iterator, "_workers", []))
            iterator._shutdown_workers()   # asks them to stop, waits a few seconds, then SIGTERM
            for worker in workers:         # which they ignore: one still there is killed
                if worker.is_alive():
                    worker.kill()
                    worker.join(timeout=5)
        self.loader._iterator = None
        _OPEN_LOADERS.discard(self)

    def __enter__(self) -> "RunLoader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:   # noqa: BLE001 - interpreter shutdown: nothing left to close
            pass

    def for_epoch(self, epoch: int, start_batch: int = 0) -> DataLoader:
        self.sampler.epoch, self.sampler.start = epoch, start_batch * self.batch_size
        return self.loader


def batches_per_epoch(dataset_length: int, batch_size: int, world_size: int = 1, drop_last: bool = False) -> int:
    per_rank = math.ceil(dataset_length / world_size)
    return per_rank // batch_size if drop_last else math.ceil(per_rank / batch_size)
