"""Image quality metrics.

Paired (the true translation is known): ``psnr``, ``ssim``, ``mean_l1``; against the photo itself:
``change_beyond_colour_map`` (is a translation more than a recolouring?).
Distribution (two sets of feature vectors, no pairing): ``kid``, ``fid``.
Artefacts (no reference): ``checkerboard_level``.
Feature extraction for the distribution metrics lives in ``cyclegan.eval.features``.
"""
from .artifacts import checkerboard_level
from .distribution import KIDResult, fid, kid
from .paired import RECOLOUR_ONLY, beyond_colour_map, change_beyond_colour_map, mean_l1, psnr, ssim

__all__ = ["psnr", "ssim", "mean_l1", "RECOLOUR_ONLY", "beyond_colour_map", "change_beyond_colour_map", "kid", "fid", "KIDResult", "checkerboard_level"]
