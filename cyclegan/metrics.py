"""Paired image metrics (when the true translation is known)."""
from __future__ import annotations

import math

import numpy as np
from PIL import Image


def psnr(image: Image.Image, reference: Image.Image) -> float:
    """Peak signal-to-noise ratio in dB between two 8-bit RGB images of the same size."""
    a = np.asarray(image.convert("RGB"), dtype=np.float64)
    b = np.asarray(reference.convert("RGB"), dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"sizes differ: {a.shape} vs {b.shape}")
    mse = float(np.mean((a - b) ** 2))
    return float("inf") if mse == 0 else 10.0 * math.log10(255.0 ** 2 / mse)
