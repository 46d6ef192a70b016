"""Distances between two sets of image features: KID and FID.

KID (Binkowski et al., 2018): the unbiased estimate of the squared maximum mean discrepancy with
the cubic polynomial kernel k(x, y) = (x.y / d + 1)^3, averaged over random subsets; unbiased,
so it is comparable across set sizes and meaningful for small sets. FID (Heusel et al., 2017):
the Frechet distance between Gaussians fitted to the two sets; biased for small sets.
Both are computed in float64 with numpy only.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000
KID_SEED = 0


@dataclass
class KIDResult:
    mean: float
    std: float
    subsets: int
    subset_size: int      # after clamping to the smaller set


def _as_features(features, name: str) -> np.ndarray:
    array = np.asarray(features, dtype=np.float64)
    if array.ndim != 2 or array.shape[0] < 2:
        raise ValueError(f"{name}: need at least 2 feature vectors as an N x D array, got shape {array.shape}")
    return array


def _unbiased_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 with the cubic polynomial kernel between two equal-sized samples."""
    m, d = x.shape
    k_xx = (x @ x.T / d + 1.0) ** 3
    k_yy = (y @ y.T / d + 1.0) ** 3
    k_xy = (x @ y.T / d + 1.0) ** 3
    # the diagonals pair a sample with itself: leaving them out makes the estimate unbiased
    sum_xx = (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
    sum_yy = (k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    return float(sum_xx + sum_yy - 2.0 * k_xy.mean())


def kid(real, fake, subsets: int = KID_SUBSETS, subset_size: int = KID_SUBSET_SIZE,
        seed: int = KID_SEED) -> KIDResult:
    """KID of two N x D feature arrays: mean and standard deviation over ``subsets`` random subsets.

    Each subset draws ``subset_size`` vectors from each set without replacement; the size is
    clamped to the smaller set, so small folders still get a (noisier) estimate.
    """
    real, fake = _as_features(real, "real features"), _as_features(fake, "fake features")
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"feature sizes differ: {real.shape[1]} vs {fake.shape[1]}")
    if subsets < 1 or subset_size < 2:
        raise ValueError("KID needs at least 1 subset of at least 2 images")
    size = min(subset_size, len(real), len(fake))
    if size == len(real) == len(fake):
        # every subset is the whole of both sets, in some order: one evaluation gives them all
        values = [_unbiased_mmd2(real, fake)] * subsets
    else:
        rng = np.random.default_rng(seed)      # own generator: scoring never moves a training RNG
        values = [_unbiased_mmd2(real[rng.choice(len(real), size, replace=False)],
                                 fake[rng.choice(len(fake), size, replace=False)]) for _ in range(subsets)]
    return KIDResult(float(np.mean(values)), float(np.std(values)), subsets, size)


def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix (negative round-off clipped)."""
    values, vectors = np.linalg.eigh(matrix)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def fid(real, fake) -> float:
    """Frechet distance between Gaussians fitted to two N x D feature arrays.

    ||mu_r - mu_f||^2 + tr(S_r) + tr(S_f) - 2 tr((S_r S_f)^(1/2)), where the last trace is taken
    as tr((S_r^(1/2) S_f S_r^(1/2))^(1/2)): the same eigenvalues, but of a symmetric matrix, so
    it stays real and stable even when the covariances are singular (fewer images than features).
    """
    real, fake = _as_features(real, "real features"), _as_features(fake, "fake features")
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"feature sizes differ: {real.shape[1]} vs {fake.shape[1]}")
    mu_r, mu_f = real.mean(axis=0), fake.mean(axis=0)
    cov_r, cov_f = np.cov(real, rowvar=False), np.cov(fake, rowvar=False)
    root_r = _sqrt_psd(cov_r)
    middle = root_r @ cov_f @ root_r
    trace_sqrt = float(np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0.0, None)).sum())
    value = float(((mu_r - mu_f) ** 2).sum() + np.trace(cov_r) + np.trace(cov_f) - 2.0 * trace_sqrt)
    return max(value, 0.0)
