"""Image quality metrics.

Paired (the true translation is known): ``psnr``, ``ssim``, ``mean_l1``.
Distribution (two sets of feature vectors, no pairing): ``kid``, ``fid``.
Artefacts (no reference): ``checkerboard_level``.
Feature extraction for the distribution metrics lives in ``cyclegan.eval.features``.
"""
from .artifacts import checkerboard_level
from .distribution import KIDResult, fid, kid
from .paired import mean_l1, psnr, ssim

__all__ = ["psnr", "ssim", "mean_l1", "kid", "fid", "KIDResult", "checkerboard_level"]
