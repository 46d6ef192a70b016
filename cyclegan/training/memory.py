"""Will one training step fit in memory? Estimated before the first step, so a huge
``--crop_size`` or ``--batch_size`` ends in one line naming a size that fits, not in the kernel's
out-of-memory kill minutes later.

The estimate runs each network once on the "meta" device (shapes only, no memory, no time) to
count the activation elements a forward pass produces at the configured size, multiplies by
the passes a step makes (declared per model), and adds weights, gradients and Adam's two
moments. Autograd keeps roughly every activation for the backward pass, plus transients:
``ACTIVATION_OVERHEAD`` was measured with a 9-block ResNet CycleGAN step on the CPU at 256x256:
its peak resident memory grew by 2.67 GiB, 0.9x of this estimate (rounded up to 1.0, so the
guard errs on the side of warning).
"""
from __future__ import annotations

import copy

import torch
from torch import nn

from ..device import available_memory
from ..errors import UserError

ACTIVATION_OVERHEAD = 1.0
BYTES = 4   # activations, weights and optimiser state are fp32 (autocast keeps fp32 masters too)


def activation_elements(net: nn.Module, channels: int, size: int) -> int:
    """Elements of every module output of one forward pass at ``size`` x ``size`` (batch 1)."""
    total = 0

    def count(module, inputs, output):
        nonlocal total
        if isinstance(output, torch.Tensor) and not list(module.children()):
            total += output.numel()

    meta = copy.deepcopy(net).to("meta")
    handles = [m.register_forward_hook(count) for m in meta.modules()]
    try:
        with torch.no_grad():
            meta(torch.empty(1, channels, size, size, device="meta"))
    finally:
        for handle in handles:
            handle.remove()
    return total


def step_bytes(nets: dict[str, nn.Module], passes: dict[str, int], channels: int, size: int, batch: int) -> int:
    """Estimated peak bytes of one training step."""
    activations = sum(passes.get(name, 0) * activation_elements(net, channels, size) for name, net in nets.items()
                      if passes.get(name, 0))
    parameters = sum(p.numel() for net in nets.values() for p in net.parameters())
    return int(BYTES * (ACTIVATION_OVERHEAD * batch * activations + 4 * parameters))


def available_bytes(device: torch.device) -> int | None:
    """Memory a step can use now: free GPU memory, or the CPU's MemAvailable; None if unknown."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    return available_memory()


def check_step_fits(nets: dict[str, nn.Module], passes: dict[str, int], channels: int, size: int, batch: int,
                    device: torch.device, available: int | None = None) -> int:
    """Raise a one-line UserError when a step at ``size`` and ``batch`` cannot fit; return the estimate."""
    need = step_bytes(nets, passes, channels, size, batch)
    have = available_bytes(device) if available is None else available
    if have is None or need <= have:
        return need
    # Activations grow with the square of the side: scale down to what fits, then check it.
    fixed = step_bytes(nets, {}, channels, size, batch)
    scale = max(have - fixed, 0) / max(need - fixed, 1)
    fits = int(size * scale ** 0.5) // 4 * 4
    while fits >= 32 and step_bytes(nets, passes, channels, fits, batch) > have:
        fits -= 4
    advice = f"--crop_size {fits} fits" if fits >= 32 else "even a 32-pixel crop does not fit: lower --ngf/--ndf"
    raise UserError(f"--crop_size {size} with --batch_size {batch} needs about {need / 2**30:.1f} GiB for one "
                    f"training step and this {device.type} has {have / 2**30:.1f} GiB available; {advice}, "
                    "or lower --batch_size")
