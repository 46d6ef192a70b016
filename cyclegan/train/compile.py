"""``--compile auto|on|off``: torch.compile the networks, with a cache that outlives the run.

Compilation costs minutes before the first step. Inductor keeps compiled graphs in a cache
directory; we point it at a persistent per-user folder (not /tmp) so a resumed or repeated run
with the same shapes loads them instead of compiling again.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from ..errors import UserError

# auto compiles on CUDA only for runs long enough to repay a few minutes of compilation. On CPU
# it stays off: measured on a 2-core AVX2 machine, compiled steps were not faster than eager
# ones (oneDNN convolutions dominate and compilation cannot fuse into them).
AUTO_MIN_STEPS_CUDA = 2000


def should_compile(setting: str, device: torch.device, total_steps: int) -> bool:
    if setting not in ("auto", "on", "off"):
        raise UserError(f"--compile {setting!r}: choose auto, on or off")
    if setting == "auto":
        return device.type == "cuda" and total_steps >= AUTO_MIN_STEPS_CUDA
    return setting == "on"


def compile_cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "cyclegan" / "torchinductor"


def compile_module(net: nn.Module) -> nn.Module:
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(compile_cache_dir()))
    return torch.compile(net)
