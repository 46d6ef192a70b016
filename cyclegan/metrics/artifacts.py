"""How much of an image is a checkerboard: the grid-locked period-2 pattern that transposed
convolutions leave (Odena et al. 2016), measured without a reference image.

The luminance is first high-passed along each axis with [-1, 2, -1] / 4, which leaves a period-2
pattern of amplitude a as it is and removes every linear ramp (so smooth gradients do not count).
In each 8x8 block (aligned to the pixel grid) the high-passed luminance is projected on the
three patterns of period 2 -- alternating columns, alternating rows, and the checkerboard -- and
the absolute projections are summed; the level is the mean over blocks, in intensity units (0-1).
Photos and their smooth stylisations sit near a floor set by their fine texture; a
grid-locked artefact of amplitude a adds about a.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

BLOCK = 8


def checkerboard_level(image: Image.Image) -> float:
    """Mean over 8x8 blocks of |<high-passed luma, period-2 pattern>| summed over the three patterns."""
    luma = np.asarray(image.convert("L"), dtype=np.float64) / 255.0
    h, w = (luma.shape[0] // BLOCK) * BLOCK, (luma.shape[1] // BLOCK) * BLOCK
    if h == 0 or w == 0:
        raise ValueError(f"image of {image.size[0]}x{image.size[1]}: need at least {BLOCK}x{BLOCK} pixels")
    padded = np.pad(luma[:h, :w], 1, mode="reflect")
    core = padded[1:-1, 1:-1]
    across = (2 * core - padded[1:-1, :-2] - padded[1:-1, 2:]) / 4   # along x: keeps (-1)^x, drops ramps
    down = (2 * core - padded[:-2, 1:-1] - padded[2:, 1:-1]) / 4     # along y

    def blocks(a):
        return a.reshape(h // BLOCK, BLOCK, w // BLOCK, BLOCK).transpose(0, 2, 1, 3)
    sign = np.where(np.arange(BLOCK) % 2 == 0, 1.0, -1.0)
    columns, rows, checker = np.outer(np.ones(BLOCK), sign), np.outer(sign, np.ones(BLOCK)), np.outer(sign, sign)
    level = sum(np.abs((blocks(a) * p).mean(axis=(2, 3)))
                for a, p in ((across, columns), (down, rows), (across, checker)))
    return float(level.mean())
