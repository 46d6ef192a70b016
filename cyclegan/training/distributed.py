"""Multi-process training under ``torchrun``: process group, DDP wrapping, rank-0-only side effects.

torchrun starts one process per worker and sets RANK, WORLD_SIZE and LOCAL_RANK; everything
here is a no-op when they are absent, so single-process runs take exactly the same code path.
torchrun's elastic agent watches the workers: when one fails, it stops the others and reports
the failing rank; the collective timeout below turns a silent hang into such a failure.
"""
from __future__ import annotations

import os
import sys
import warnings
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import nn

from ..errors import UserError

# A step that waits this long on a collective means a peer is gone or stuck: fail, don't hang.
COLLECTIVE_TIMEOUT = timedelta(minutes=int(os.environ.get("CYCLEGAN_DIST_TIMEOUT_MIN", "10")))


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_distributed(device: torch.device) -> tuple[DistInfo, torch.device]:
    """Join the process group torchrun prepared: gloo on CPU, nccl on CUDA, one GPU per process."""
    if not launched_by_torchrun():
        return DistInfo(), device
    info = DistInfo(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ.get("LOCAL_RANK", 0)))
    if device.type == "cuda":
        if info.local_rank >= torch.cuda.device_count():
            raise UserError(f"LOCAL_RANK {info.local_rank} but this machine has {torch.cuda.device_count()} GPU(s); "
                            "use torchrun --nproc_per_node at most the number of GPUs")
        device = torch.device("cuda", info.local_rank)
        torch.cuda.set_device(device)
        backend = "nccl"
    elif device.type == "cpu":
        backend = "gloo"
    else:
        raise UserError(f"multi-process training supports cpu and cuda devices, not {device.type}")
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, timeout=COLLECTIVE_TIMEOUT)
    return info, device


def shutdown_distributed() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def ddp_wrapper(modules: list[nn.Module], device: torch.device, is_main: bool, **ddp_options):
    """Prepare a model's step modules for DistributedDataParallel: batch norm becomes SyncBatchNorm
    on CUDA (PyTorch has none on CPU: there each process keeps its own statistics, said once).
    Returns the modules, converted where needed, and a function that wraps one in DDP."""
    has_batch_norm = any(isinstance(m, nn.BatchNorm2d) for module in modules for m in module.modules())
    if has_batch_norm and device.type == "cuda":
        modules = [nn.SyncBatchNorm.convert_sync_batchnorm(module) for module in modules]
    elif has_batch_norm and is_main:
        warnings.warn("--norm batch under multi-process CPU training: PyTorch's SyncBatchNorm needs GPUs, "
                      "so each process normalises with its own batch statistics")
    device_ids = [device.index] if device.type == "cuda" else None
    return modules, lambda module, **extra: nn.parallel.DistributedDataParallel(
        module, device_ids=device_ids, **{**ddp_options, **extra})


def all_reduce_losses(losses: dict[str, float], stop: bool, info: DistInfo) -> tuple[dict[str, float], bool]:
    """Average the step's losses over ranks and agree on stopping (one small collective per step).

    Every rank must stop after the same step, or the others would wait for it forever.
    """
    if not info.enabled:
        return losses, stop
    names = sorted(losses)
    values = torch.tensor([losses[n] for n in names] + [1.0 if stop else 0.0], dtype=torch.float64)
    dist.all_reduce(values)
    averaged = {n: float(values[i]) / info.world_size for i, n in enumerate(names)}
    return {n: averaged[n] for n in losses}, bool(values[-1] > 0)


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def gather_objects(obj, info: DistInfo) -> list:
    """Every rank's ``obj``, in rank order (on every rank)."""
    if not info.enabled:
        return [obj]
    gathered = [None] * info.world_size
    dist.all_gather_object(gathered, obj)
    return gathered


def print_main(info: DistInfo, *args, **kwargs) -> None:
    if info.is_main:
        print(*args, file=kwargs.pop("file", sys.stderr), **kwargs)
