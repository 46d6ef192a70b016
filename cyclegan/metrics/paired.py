"""Paired image metrics: a translated image against its known true translation, or its photo.

PSNR, L1 and SSIM take two 8-bit RGB images of the same size. SSIM follows Wang et al. (2004) with the
settings most papers report (and scikit-image's ``gaussian_weights=True``): an 11x11 Gaussian
window of sigma 1.5, K1 = 0.01, K2 = 0.03, population covariances, the mean over the pixels whose
window lies fully inside the image, averaged over the three channels.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

SSIM_SIGMA = 1.5
SSIM_RADIUS = 5          # int(3.5 * sigma + 0.5): scikit-image's truncation of the Gaussian
SSIM_K1, SSIM_K2 = 0.01, 0.03
SSIM_MIN_SIDE = 2 * SSIM_RADIUS + 1     # smaller images hold no window: no SSIM
DATA_RANGE = 255.0


def _pair(image: Image.Image, reference: Image.Image) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(image.convert("RGB"), dtype=np.float64)
    b = np.asarray(reference.convert("RGB"), dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"sizes differ: {a.shape} vs {b.shape}")
    return a, b


def psnr(image: Image.Image, reference: Image.Image) -> float:
    """Peak signal-to-noise ratio in dB between two 8-bit RGB images of the same size."""
    a, b = _pair(image, reference)
    mse = float(np.mean((a - b) ** 2))
    return float("inf") if mse == 0 else 10.0 * math.log10(DATA_RANGE ** 2 / mse)


def mean_l1(image: Image.Image, reference: Image.Image) -> float:
    """Mean absolute difference with pixel values scaled to [0, 1] (0 = identical, 1 = opposite)."""
    a, b = _pair(image, reference)
    return float(np.mean(np.abs(a - b)) / DATA_RANGE)


def _gaussian_window() -> torch.Tensor:
    x = torch.arange(-SSIM_RADIUS, SSIM_RADIUS + 1, dtype=torch.float64)
    g = torch.exp(-(x ** 2) / (2 * SSIM_SIGMA ** 2))
    g = g / g.sum()
    return (g[:, None] * g[None, :]).expand(3, 1, -1, -1).contiguous()   # one 11x11 window per channel


def ssim(image: Image.Image, reference: Image.Image) -> float:
    """Structural similarity (1 = identical) between two 8-bit RGB images of the same size."""
    a, b = _pair(image, reference)
    size = SSIM_MIN_SIDE
    if min(a.shape[:2]) < size:
        raise ValueError(f"SSIM needs images of at least {size}x{size} pixels, got {a.shape[1]}x{a.shape[0]}")
    x = torch.from_numpy(a).permute(2, 0, 1).unsqueeze(0)   # 1 x 3 x H x W
    y = torch.from_numpy(b).permute(2, 0, 1).unsqueeze(0)
    window = _gaussian_window()
    # 'valid' filtering: only windows fully inside the image count, as in scikit-image
    blur = lambda t: F.conv2d(t, window, groups=3)           # 1 x 3 x (H-10) x (W-10)
    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x ** 2
    var_y = blur(y * y) - mu_y ** 2
    cov = blur(x * y) - mu_x * mu_y
    c1, c2 = (SSIM_K1 * DATA_RANGE) ** 2, (SSIM_K2 * DATA_RANGE) ** 2
    s = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x ** 2 + mu_y ** 2 + c1) * (var_x + var_y + c2))
    return float(s.mean())


# Levels of 255 beyond one colour map per picture under which a translation is a recolouring: the
# shapes and textures are the photo's. Measured on the quality suite (BENCHMARKS.md, "Recolouring
# or translating", and the three-seed run beside it): the truths that change texture lie at 4-25
# (painterly 4.7, tone 8.7, poster 24.5), the colour pairs' truths at 0.0-0.4, FastCUT's smeared
# real-pair outputs at 15, and outputs that by eye are the photo recoloured at 0.3-1.1.
RECOLOUR_ONLY = 1.5
FIT_PIXELS = 2 ** 18          # pixels a picture is measured on, at most about


def beyond_colour_map(photos: torch.Tensor, translations: torch.Tensor) -> torch.Tensor:
    """Per picture, the mean |translation - the affine colour map of its photo closest to it|, in the
    images' own units (N x 3 x H x W, the same size and scale).

    A recolouring of any strength scores about 0 (a hue turn, a channel swap, the negative,
    brightness, contrast: any 3 x 3 colour matrix plus an offset, fitted to each picture by least
    squares); brush strokes, flat poster colours, outlines, blur and moved shapes do not. So it tells
    a generator that only recolours from one that translates, where mean |G(x) - x| cannot."""
    # float64 on the CPU (an Apple GPU has no float64); a big picture is measured on a regular grid of
    # about FIT_PIXELS of its pixels, which estimates the mean without a 12 MP float64 copy
    stride = max(1, math.ceil(math.sqrt(photos.shape[-2] * photos.shape[-1] / FIT_PIXELS)))
    grid = lambda images: images.detach()[..., ::stride, ::stride].to("cpu", torch.float64)
    x = grid(photos).flatten(2).transpose(1, 2)                       # N x P x 3
    y = grid(translations).flatten(2).transpose(1, 2)
    X = torch.cat([x, torch.ones_like(x[..., :1])], dim=2)            # N x P x 4
    # the normal equations with a tiny ridge: a flat picture (a rank-deficient fit) is solved too
    gram = X.transpose(1, 2) @ X + 1e-6 * X.shape[1] * torch.eye(X.shape[2], dtype=X.dtype)
    colour_map = torch.linalg.solve(gram, X.transpose(1, 2) @ y)      # N x 4 x 3
    return (X @ colour_map - y).abs().mean(dim=(1, 2))


def change_beyond_colour_map(photo: Image.Image, translation: Image.Image) -> float:
    """``beyond_colour_map`` of one translation, in levels of 255 (the photo is resized to it)."""
    a, b = _pair(photo.convert("RGB").resize(translation.size), translation)
    to_tensor = lambda array: torch.from_numpy(array).permute(2, 0, 1)[None]
    return float(beyond_colour_map(to_tensor(a), to_tensor(b))[0])
