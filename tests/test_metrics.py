"""Metrics on cases with a known answer, and against scikit-image / scipy / torch-fidelity where installed."""
import math

import numpy as np
import pytest
import torch
from PIL import Image, ImageFilter

from cyclegan.metrics import fid, kid, mean_l1, psnr, ssim


def photo(height=96, width=120) -> np.ndarray:
    skimage_data = pytest.importorskip("skimage.data")
    return skimage_data.astronaut()[100:100 + height, 150:150 + width].copy()


def noisy(array: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(np.round(array + rng.normal(0.0, sigma, array.shape)), 0, 255).astype(np.uint8)


def test_identical_images_score_perfectly():
    image = Image.fromarray(photo())
    assert psnr(image, image) == math.inf
    assert ssim(image, image) == pytest.approx(1.0)
    assert mean_l1(image, image) == 0.0


def test_known_offsets():
    """A uniform offset of 10 grey levels: MSE 100, so PSNR = 10 log10(255^2 / 100); L1 = 10/255."""
    base = np.full((32, 32, 3), 100, np.uint8)
    shifted = base + 10
    assert psnr(Image.fromarray(shifted), Image.fromarray(base)) == pytest.approx(10 * math.log10(255 ** 2 / 100))
    assert mean_l1(Image.fromarray(shifted), Image.fromarray(base)) == pytest.approx(10 / 255)
    # SSIM of a constant image against a shifted constant: the luminance term alone, (2ab + c1) / (a^2 + b^2 + c1)
    c1 = (0.01 * 255) ** 2
    luminance = (2 * 110 * 100 + c1) / (110 ** 2 + 100 ** 2 + c1)
    assert ssim(Image.fromarray(shifted), Image.fromarray(base)) == pytest.approx(luminance)


@pytest.mark.parametrize("sigma", [3, 15, 40])
def test_psnr_and_ssim_match_scikit_image(sigma):
    metrics = pytest.importorskip("skimage.metrics")
    clean = photo()
    dirty = noisy(clean, sigma)
    ours_psnr = psnr(Image.fromarray(dirty), Image.fromarray(clean))
    ours_ssim = ssim(Image.fromarray(dirty), Image.fromarray(clean))
    assert ours_psnr == pytest.approx(metrics.peak_signal_noise_ratio(clean, dirty, data_range=255), abs=1e-9)
    reference = metrics.structural_similarity(clean, dirty, channel_axis=-1, gaussian_weights=True, sigma=1.5,
                                              use_sample_covariance=False, data_range=255)
    assert ours_ssim == pytest.approx(reference, abs=1e-9)


def test_more_noise_scores_worse():
    clean = Image.fromarray(photo())
    scores = [(psnr(Image.fromarray(noisy(photo(), s)), clean), ssim(Image.fromarray(noisy(photo(), s)), clean),
               mean_l1(Image.fromarray(noisy(photo(), s)), clean)) for s in (2, 10, 30)]
    assert scores[0][0] > scores[1][0] > scores[2][0]
    assert scores[0][1] > scores[1][1] > scores[2][1]
    assert scores[0][2] < scores[1][2] < scores[2][2]


def test_paired_metrics_refuse_mismatched_sizes():
    with pytest.raises(ValueError, match="sizes differ"):
        psnr(Image.new("RGB", (8, 8)), Image.new("RGB", (8, 9)))
    with pytest.raises(ValueError, match="at least 11x11"):
        ssim(Image.new("RGB", (8, 8)), Image.new("RGB", (8, 8)))


def gaussian_features(n, d=16, shift=0.0, scale=1.0, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(shift, scale, size=(n, d))


def test_kid_orders_distributions():
    """Two samples of one distribution: KID near 0; the further apart the distributions, the larger."""
    real = gaussian_features(300, seed=1)
    same = kid(real, gaussian_features(300, seed=2), subset_size=100)
    near = kid(real, gaussian_features(300, shift=0.3, seed=3), subset_size=100)
    far = kid(real, gaussian_features(300, shift=1.0, seed=4), subset_size=100)
    assert abs(same.mean) < 3 * same.std + 0.01
    assert same.mean < near.mean < far.mean
    assert near.mean > 5 * near.std            # a real difference stands out of the subset noise


def test_kid_clamps_the_subset_size_to_the_smaller_set():
    result = kid(gaussian_features(10), gaussian_features(40, seed=1), subsets=7, subset_size=1000)
    assert (result.subsets, result.subset_size) == (7, 10)
    with pytest.raises(ValueError, match="at least 2"):
        kid(gaussian_features(1), gaussian_features(10))


def test_kid_matches_torch_fidelity():
    """With subsets as large as both sets every draw is the whole set, so the two estimators must agree."""
    torch = pytest.importorskip("torch")
    metric_kid = pytest.importorskip("torch_fidelity.metric_kid")
    real, fake = gaussian_features(50, d=32, seed=5), gaussian_features(50, d=32, shift=0.2, seed=6)
    theirs = metric_kid.kid_features_to_metric(torch.from_numpy(real), torch.from_numpy(fake), kid_subsets=3,
                                               kid_subset_size=50, kid_kernel="poly", kid_kernel_poly_degree=3,
                                               kid_kernel_poly_gamma=None, kid_kernel_poly_coef0=1,
                                               rng_seed=0, verbose=False)
    assert kid(real, fake, subset_size=50).mean == pytest.approx(theirs["kernel_inception_distance_mean"], rel=1e-6)


def test_fid_known_answers():
    x = gaussian_features(200, d=8)
    assert fid(x, x) == pytest.approx(0.0, abs=1e-6)
    # shifting every vector by d leaves the covariance alone: FID = |d|^2 exactly
    d = np.arange(8) / 4.0
    assert fid(x, x + d) == pytest.approx(float((d ** 2).sum()), rel=1e-6)
    # scaling by s: the covariance becomes s^2 S, so FID = tr(S) (1 - s)^2
    s = 2.0
    cov = np.cov(x, rowvar=False)
    assert fid(x, x * s - x.mean(0) * (s - 1)) == pytest.approx(np.trace(cov) * (1 - s) ** 2, rel=1e-6)


def test_fid_matches_the_scipy_formula_even_with_fewer_samples_than_features():
    linalg = pytest.importorskip("scipy.linalg")
    for n, d in ((300, 10), (20, 64)):
        a, b = gaussian_features(n, d, seed=7), gaussian_features(n, d, shift=0.5, scale=1.5, seed=8)
        mu_a, mu_b = a.mean(0), b.mean(0)
        ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
        root = linalg.sqrtm(ca @ cb).real
        expected = ((mu_a - mu_b) ** 2).sum() + np.trace(ca) + np.trace(cb) - 2 * np.trace(root)
        assert fid(a, b) == pytest.approx(expected, rel=1e-4)


def test_checkerboard_level_sees_a_grid_locked_pattern_that_psnr_hardly_sees():
    from cyclegan.metrics import checkerboard_level, psnr
    rng = np.random.default_rng(0)
    smooth = np.clip(np.add.outer(np.linspace(0.2, 0.8, 64), np.linspace(0, 0.1, 64)), 0, 1)
    grid = np.where(np.add.outer(np.arange(64), np.arange(64)) % 2 == 0, 1.0, -1.0)
    as_image = lambda a: Image.fromarray(np.repeat((a * 255).round().astype(np.uint8)[..., None], 3, axis=2))
    clean, checkered = as_image(smooth), as_image(smooth + 0.02 * grid)
    noisy = as_image(np.clip(smooth + rng.normal(0, 0.02, smooth.shape), 0, 1))
    assert checkerboard_level(clean) < 0.004
    assert abs(checkerboard_level(checkered) - checkerboard_level(clean) - 0.02) < 0.003   # adds its amplitude
    assert checkerboard_level(noisy) < 0.5 * checkerboard_level(checkered)       # noise of the same size: less
    assert psnr(checkered, clean) > 33                                           # while PSNR calls it close
    with pytest.raises(ValueError, match="at least 8x8"):
        checkerboard_level(as_image(smooth[:4, :4]))


# --------------------------------------------------------------------------- beyond a colour map

def textured_photo(seed: int = 0, side: int = 48) -> np.ndarray:
    """A photo-like picture: smooth regions plus fine texture, 8-bit RGB."""
    rng = np.random.default_rng(seed)
    coarse = np.asarray(Image.fromarray((rng.random((6, 6, 3)) * 255).astype(np.uint8)).resize((side, side), Image.BICUBIC), float)
    return np.clip(0.8 * coarse + rng.normal(0, 12, (side, side, 3)) + 20, 0, 255)


def test_a_recolouring_of_any_strength_is_not_change_beyond_a_colour_map():
    """The negative, a channel swap and a strong colour matrix with an offset change every pixel by
    tens of levels and leave nothing beyond one colour map; blur, posterisation and a moved scene
    leave far more than RECOLOUR_ONLY."""
    from cyclegan.metrics import RECOLOUR_ONLY, change_beyond_colour_map
    photo = textured_photo()
    image = lambda array: Image.fromarray(np.clip(np.round(array), 0, 255).astype(np.uint8))
    matrix = np.array([[0.2, 0.7, 0.1], [0.6, 0.1, 0.3], [0.1, 0.2, 0.5]])
    recoloured = {"negative": 255 - photo, "swap": photo[..., ::-1], "matrix": photo @ matrix.T + 30}
    for name, array in recoloured.items():
        assert np.abs(array - photo).mean() > 20, name
        assert change_beyond_colour_map(image(photo), image(array)) < 0.5, name   # 8-bit rounding only
    blurred = np.asarray(image(photo).filter(ImageFilter.GaussianBlur(2)), float)
    posterised = np.round(photo / 85) * 85
    moved = np.roll(photo, 12, axis=1)
    for name, array in {"blur": blurred, "posterise": posterised, "moved": moved}.items():
        assert change_beyond_colour_map(image(photo), image(array)) > 2 * RECOLOUR_ONLY, name


def test_beyond_colour_map_fits_each_picture_its_own_map_and_survives_a_flat_one():
    from cyclegan.metrics import beyond_colour_map
    torch.manual_seed(0)
    photos = torch.rand(3, 3, 16, 16) * 2 - 1
    photos[2] = 0.25                                               # a flat picture: a rank-deficient fit
    turned = torch.stack([photos[0].flip(0), -photos[1], photos[2] * 0.5])   # a different map per picture
    assert beyond_colour_map(photos, turned).max().item() < 1e-4
    assert beyond_colour_map(photos, photos.roll(4, dims=3))[:2].min().item() > 0.1
