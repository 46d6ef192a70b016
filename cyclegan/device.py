"""``--device auto|cpu|cuda|mps``."""
from __future__ import annotations

import torch

from .errors import UserError


def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"--device {name}: CUDA is not available on this machine; use --device cpu or auto")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise UserError("--device mps: MPS is not available on this machine; use --device cpu or auto")
    if name not in ("cpu", "mps") and not name.startswith("cuda"):
        raise UserError(f"--device {name!r} is not known; use auto, cpu, cuda or mps")
    return torch.device(name)
