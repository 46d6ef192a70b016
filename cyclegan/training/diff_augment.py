"""Differentiable augmentation for the discriminator (Zhao et al. 2020, "DiffAugment").

On a small domain the discriminator soon memorises the real images and its verdicts stop
teaching the generator anything. Showing it every image - real and generated, in its own
update and in the generator's - randomly translated makes memorising harder while leaving the
distribution the generator must match unchanged (the same transform hits both sides). The
shift is built from differentiable indexing, so the generator's gradient flows through it.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..models import D_AUGMENTATIONS


def translate(images: Tensor, max_shift: int) -> Tensor:
    """Shift each image by its own random offset of up to ``max_shift`` pixels in x and y.
    Borders are filled by repeating the edge pixels, so a plain background stays plain."""
    if max_shift <= 0:
        return images
    n, c, h, w = images.shape
    padded = F.pad(images, (max_shift,) * 4, mode="replicate")             # N x C x h+2m x w+2m
    dy = torch.randint(0, 2 * max_shift + 1, (n,), device=images.device)
    dx = torch.randint(0, 2 * max_shift + 1, (n,), device=images.device)
    rows = (dy[:, None] + torch.arange(h, device=images.device))            # N x h
    cols = (dx[:, None] + torch.arange(w, device=images.device))            # N x w
    rows = rows[:, None, :, None].expand(n, c, h, w + 2 * max_shift)
    shifted_rows = padded.gather(2, rows)                                   # N x C x h x w+2m
    cols = cols[:, None, None, :].expand(n, c, h, w)
    return shifted_rows.gather(3, cols)                                     # N x C x h x w


def cutout(images: Tensor, size: int) -> Tensor:
    """Blank (set to 0, mid-grey) a square reaching size // 2 pixels either side of a random centre
    in each image (side 2 * (size // 2) + 1), clipped at the borders: D cannot recognise a
    memorised image by any one part of it."""
    if size <= 0:
        return images
    n, _, h, w = images.shape
    cy = torch.randint(0, h, (n, 1, 1, 1), device=images.device)
    cx = torch.randint(0, w, (n, 1, 1, 1), device=images.device)
    rows = torch.arange(h, device=images.device).view(1, 1, h, 1)
    cols = torch.arange(w, device=images.device).view(1, 1, 1, w)
    inside = ((rows - cy).abs() <= size // 2) & ((cols - cx).abs() <= size // 2)   # N x 1 x h x w
    return images * (~inside).to(images.dtype)


def discriminator_augment(name: str, images: Tensor) -> Tensor:
    """Apply ``--d_augment NAME`` to a batch the discriminator is about to see."""
    if name == "none":
        return images
    side = images.shape[-1]
    if name == "translation":
        # 1/16 of the side: 2 px at 32x32, 4 at 64x64 (measured on the digits benchmark).
        return translate(images, side // 16)
    if name == "translation_cutout":
        # DiffAugment's cutout: a square of half the side
        return cutout(translate(images, side // 16), side // 2)
    raise ValueError(f"unknown discriminator augmentation {name!r}; choose from {D_AUGMENTATIONS}")
