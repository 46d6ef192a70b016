"""``--precision auto|fp32|bf16|fp16`` and the memory format that goes with it.

Low precision runs the networks under autocast; parameters, optimiser state, pool images and
loss values stay fp32. What "fast" means depends on the hardware:

* CUDA: bf16 where the GPU supports it (no loss scaling needed), else fp16 with a grad scaler.
* CPU: bf16 only helps where oneDNN has native bf16 kernels (AVX512-BF16 or AMX). Elsewhere
  (e.g. AVX2-only CPUs) bf16 convolutions fall back to a reference kernel that is ~20x slower
  than fp32, so ``auto`` stays on fp32 there.

oneDNN's fast bf16 convolutions on CPU need channels-last tensors end to end (a contiguous input
sends bf16 convolutions to the slow kernel too), and tensor cores prefer channels-last on CUDA,
so channels-last comes with every low-precision path.
"""
from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass

import torch

from .errors import UserError

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def cpu_has_fast_bf16() -> bool:
    """True when oneDNN has native bf16 kernels on this CPU (AVX512-BF16 or AMX)."""
    try:
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # private API: be conservative if it moves
        return False


@dataclass(frozen=True)
class Precision:
    name: str                 # fp32 | bf16 | fp16 (resolved, never "auto")
    device_type: str          # cpu | cuda | mps

    @property
    def dtype(self) -> torch.dtype:
        return _DTYPES[self.name]

    @property
    def channels_last(self) -> bool:
        return self.name != "fp32" and self.device_type in ("cpu", "cuda")

    @property
    def memory_format(self) -> torch.memory_format:
        return torch.channels_last if self.channels_last else torch.contiguous_format

    def place(self, batch: torch.Tensor, device: torch.device) -> torch.Tensor:
        """A batch on ``device`` in this precision's layout (channels-last with low precision)."""
        return batch.to(device, non_blocking=True, memory_format=self.memory_format)

    @property
    def needs_grad_scaler(self) -> bool:
        return self.name == "fp16" and self.device_type == "cuda"

    def autocast(self):
        """The context the networks run in; a no-op for fp32."""
        if self.name == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device_type, dtype=self.dtype)

    def grad_scaler(self) -> "torch.amp.GradScaler":
        """A grad scaler that is active only when fp16 needs one (a disabled scaler is a pass-through)."""
        return torch.amp.GradScaler("cuda" if self.device_type == "cuda" else "cpu",
                                    enabled=self.needs_grad_scaler)


def resolve_precision(requested: str, device: torch.device) -> Precision:
    if requested not in PRECISIONS:
        raise UserError(f"--precision {requested!r}: choose one of {', '.join(PRECISIONS)}")
    kind = device.type
    if requested == "auto":
        if kind == "cuda":
            return Precision("bf16" if torch.cuda.is_bf16_supported() else "fp16", kind)
        if kind == "cpu" and cpu_has_fast_bf16():
            return Precision("bf16", kind)
        return Precision("fp32", kind)
    if requested == "fp16" and kind == "cpu":
        raise UserError("--precision fp16 needs a GPU; on the CPU use bf16 (or auto)")
    if requested == "bf16" and kind == "cpu" and not cpu_has_fast_bf16():
        warnings.warn("--precision bf16: this CPU has no native bf16 (no AVX512-BF16 or AMX), so bf16 "
                      "convolutions run on a slow fallback, far slower than fp32; --precision auto avoids that")
    if requested == "bf16" and kind == "cuda" and not torch.cuda.is_bf16_supported():
        raise UserError("--precision bf16: this GPU does not support bf16; use fp16 or auto")
    return Precision(requested, kind)


def describe_precision(precision: Precision) -> str:
    layout = "channels-last" if precision.channels_last else "contiguous"
    return f"{precision.name} on {precision.device_type}, {layout}"
