"""Normalisation layers by name, and the conv-bias rule that goes with them."""
from __future__ import annotations

import functools
from typing import Callable

import torch
from torch import nn

from ..errors import UserError

NormFactory = Callable[[int], nn.Module]


def _identity(num_features: int) -> nn.Module:
    return nn.Identity()


class PixelNorm(nn.Module):
    """Each pixel's feature vector scaled to unit root-mean-square across channels (Karras et al.
    2018). It keeps activations at a working scale like instance norm does, but from no spatial
    statistic: a generator under instance norm learns to paint a bright or dark blob that sets
    an image's mean and variance (the "droplets" of Karras et al. 2020), which a
    per-pixel norm gives it no reason to."""

    def __init__(self, num_features: int, eps: float = 1e-8):
        super().__init__()
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + self.eps)


NORMS = ("instance", "batch", "syncbatch", "pixel", "none")   # --norm choices


def get_norm_layer(name: str) -> NormFactory:
    """instance: no affine, no running stats (the CycleGAN default); batch: affine + running stats;
    pixel: per-pixel across channels, no parameters."""
    if name == "instance":
        return functools.partial(nn.InstanceNorm2d, affine=False, track_running_stats=False)
    if name in ("batch", "syncbatch"):
        # syncbatch (the reference's name) saves the same keys; under torchrun on GPUs the loop
        # converts batch norm to SyncBatchNorm, which is what the reference's syncbatch means.
        return functools.partial(nn.BatchNorm2d, affine=True, track_running_stats=True)
    if name == "pixel":
        return PixelNorm
    if name == "none":
        return _identity
    raise UserError(f"--norm {name!r} is not known; use one of {', '.join(NORMS)}")


def conv_bias_for(norm: NormFactory) -> bool:
    """Convs before a norm carry a bias only when the norm has no shift of its own.

    Batch norm's affine beta makes a conv bias redundant; instance norm here has no affine
    parameters, so the bias stays (this is also what fixes the reference's key names).
    With no norm at all the bias is kept too (the reference drops it there, which only
    costs capacity).
    """
    if norm is _identity or norm is PixelNorm:
        return True
    func = norm.func if isinstance(norm, functools.partial) else norm
    return func is nn.InstanceNorm2d
