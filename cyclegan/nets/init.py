"""Weight initialisation schemes, selected by name (``--init_type``, ``--init_gain``)."""
from __future__ import annotations

from typing import Iterable

from torch import nn

from ..errors import UserError
from .generator import FanInInitConv2d, ZeroInitConv2d

INIT_TYPES = ("normal", "xavier", "kaiming", "orthogonal")


def init_weights(net: nn.Module, init_type: str = "normal", gain: float = 0.02) -> nn.Module:
    """Initialise conv/linear weights by ``init_type``, biases to zero, batch-norm scale ~ N(1, gain).

    ``normal`` N(0, 0.02) is what the CycleGAN and DCGAN papers use; ``gain`` is the std for
    ``normal`` and the scale factor for ``xavier`` and ``orthogonal``.
    """
    if init_type not in INIT_TYPES:
        raise UserError(f"--init_type {init_type!r} is not known; use one of {', '.join(INIT_TYPES)}")

    def init_module(m: nn.Module) -> None:
        if isinstance(m, ZeroInitConv2d):   # a learned change that starts at nothing (skip generators)
            nn.init.zeros_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, FanInInitConv2d):
            nn.init.kaiming_normal_(m.weight, a=0.2, mode="fan_in", nonlinearity="leaky_relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            if init_type == "normal":
                nn.init.normal_(m.weight, 0.0, gain)
            elif init_type == "xavier":
                nn.init.xavier_normal_(m.weight, gain=gain)
            elif init_type == "kaiming":
                nn.init.kaiming_normal_(m.weight, a=0, mode="fan_in")
            else:
                nn.init.orthogonal_(m.weight, gain=gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d) and m.affine:
            nn.init.normal_(m.weight, 1.0, gain)
            nn.init.zeros_(m.bias)

    net.apply(init_module)
    return net


def set_requires_grad(nets: nn.Module | Iterable[nn.Module], requires_grad: bool) -> None:
    """Freeze or unfreeze networks, e.g. the discriminators while the generators learn, so no
    gradient is computed (or reduced under DDP) for weights that will not step."""
    for net in [nets] if isinstance(nets, nn.Module) else nets:
        for p in net.parameters():
            p.requires_grad_(requires_grad)
