"""The optimisers every model uses: Adam, and setting the scheduled rate on all of them."""
from __future__ import annotations

from typing import Iterable

import torch


def make_adam(params, lr: float, betas: tuple[float, float], device: torch.device) -> torch.optim.Adam:
    """Adam with the fused kernel where PyTorch has one for this device (one kernel per step)."""
    return torch.optim.Adam(params, lr=lr, betas=betas, fused=device.type in ("cpu", "cuda"))


def set_learning_rate(optimizers: Iterable[torch.optim.Optimizer | None], lr: float) -> None:
    for optimizer in optimizers:
        for group in optimizer.param_groups if optimizer is not None else ():
            group["lr"] = lr
