"""Scores for a real unpaired pair, where no translation has a truth.

- **taken for B**: a domain classifier (logistic regression on colour and texture statistics:
  ``domain_features``) is fitted on *judge* images of both sides, real images the translation
  model never trained on and that are never scored; the score is the share of translations it
  puts on B's side. (Fixed random-network features, tried first, told held-out photos from
  paintings worse on real_domains.py's pair.)
- **KID** of the translations against the judge images of B (same features).
- **beyond a colour map**: how much of the change one colour map per photo does not explain
  (``cyclegan.metrics.beyond_colour_map``; about 0 for a recolouring, however strong).
- **structure**: the correlation of the edge maps (Sobel magnitude of the grey image) of the
  photo and its translation: 1 keeps every edge where it was, near 0 is another picture.

``split_judges`` turns a reference-layout folder (trainA/ trainB/ testA/ testB/) into the
training folder the model sees and the judge sets it never sees.
"""
from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..data.images import list_images
from ..errors import UserError
from ..metrics.distribution import kid
from ..metrics.paired import change_beyond_colour_map
from .features import FeatureExtractor, random_extractor

JUDGE_SHARE = 0.25          # of each training side's pictures (a picture with its crops) held out
CROP_SUFFIX = re.compile(r"_c\d+$")   # real_domains.py names the crops of picture X X_c1, X_c2...


def picture_of(path: Path) -> str:
    """The picture a file shows: crops of one picture share it, so they fall on one side of a split."""
    return CROP_SUFFIX.sub("", path.stem)


def split_judges(dataroot: Path, out: Path, share: float = JUDGE_SHARE) -> tuple[Path, dict[str, list[Path]]]:
    """Copy ``dataroot`` into ``out/data`` less every ``1/share``-th picture of each training side.

    Returns the new dataroot and the judge images: ``{"A": [...], "B": [...]}`` (B's test split
    joins B's judges: it is real B that is never scored).
    """
    dataroot = Path(dataroot)
    for split in ("trainA", "trainB", "testA"):
        if not (dataroot / split).is_dir() or not list_images(dataroot / split):
            raise UserError(f"--dataroot {dataroot}: no images in {split}/ (the reference layout: "
                            "trainA/ trainB/ testA/ [testB/])")
    data = out / "data"
    judges: dict[str, list[Path]] = {"A": [], "B": []}
    step = max(2, round(1 / share))
    for side in ("A", "B"):
        files = list_images(dataroot / f"train{side}")
        pictures = sorted({picture_of(p) for p in files})
        held = set(pictures[::step])
        (data / f"train{side}").mkdir(parents=True, exist_ok=True)
        (out / "judge" / side).mkdir(parents=True, exist_ok=True)
        for path in files:
            target = (out / "judge" / side if picture_of(path) in held else data / f"train{side}") / path.name
            shutil.copyfile(path, target)
            if picture_of(path) in held:
                judges[side].append(target)
    shutil.copytree(dataroot / "testA", data / "testA", dirs_exist_ok=True)
    if (dataroot / "testB").is_dir():
        shutil.copytree(dataroot / "testB", data / "testB", dirs_exist_ok=True)
        judges["B"] += list_images(data / "testB")
    if len(judges["A"]) < 2 or len(judges["B"]) < 2:
        raise UserError(f"--dataroot {dataroot}: too few pictures to hold out judges (need 8 or more a side)")
    return data, judges


def _load(paths, size: int) -> list[Image.Image]:
    return [resize_short(Image.open(p).convert("RGB"), size) for p in paths]


def resize_short(image: Image.Image, size: int, multiple: int = 4) -> Image.Image:
    """``image`` with its short side at ``size`` and both sides a multiple of ``multiple``."""
    w, h = image.size
    scale = size / min(w, h)
    side = lambda length: max(multiple, round(length * scale) // multiple * multiple)
    return image.resize((side(w), side(h)), Image.Resampling.LANCZOS)


@dataclass
class DomainJudge:
    """A logistic regression on standardised features: P(B | image)."""
    extractor: FeatureExtractor
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float
    judge_B_features: np.ndarray   # the extractor's features of B's judges, for KID
    fit_accuracy: float            # on the judges themselves

    def prob_B(self, features: np.ndarray) -> np.ndarray:
        """P(B) for rows of ``domain_features``."""
        z = ((features - self.mean) / self.scale) @ self.weights + self.bias
        return 1.0 / (1.0 + np.exp(-z))


def domain_features(image: Image.Image) -> np.ndarray:
    """What tells a painting from a photo without a trained network (37 numbers): colour (RGB
    means and spreads, saturation and value, a saturation-weighted hue histogram, colourfulness)
    and texture at two scales (a histogram of log gradient magnitude, Laplacian energy, the share
    of flat pixels: paint is smoother and flatter than a camera's detail and noise)."""
    rgb = np.asarray(image.convert("RGB"), dtype=np.float64) / 255.0
    hsv = np.asarray(image.convert("HSV"), dtype=np.float64) / 255.0
    hue, saturation, value = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    parts = [rgb.mean((0, 1)), rgb.std((0, 1)), [saturation.mean(), saturation.std(), value.mean(), value.std()],
             np.histogram(hue, bins=8, range=(0, 1), weights=saturation)[0] / max(saturation.sum(), 1e-6)]
    red_green, yellow_blue = rgb[..., 0] - rgb[..., 1], 0.5 * (rgb[..., 0] + rgb[..., 1]) - rgb[..., 2]
    parts.append([np.hypot(red_green.std(), yellow_blue.std()) + 0.3 * np.hypot(red_green.mean(), yellow_blue.mean())])
    grey = rgb @ np.array([0.299, 0.587, 0.114])
    for stride in (1, 2):
        g = grey[::stride, ::stride]
        magnitude = np.hypot(np.diff(g, axis=1)[:-1], np.diff(g, axis=0)[:, :-1])
        parts.append(np.histogram(np.log10(magnitude + 1e-4), bins=8, range=(-4, 0))[0] / magnitude.size)
        laplacian = np.abs(4 * g[1:-1, 1:-1] - g[:-2, 1:-1] - g[2:, 1:-1] - g[1:-1, :-2] - g[1:-1, 2:])
        parts.append([laplacian.mean(), np.median(laplacian), (magnitude < 0.01).mean()])
    return np.concatenate([np.ravel(p) for p in parts])


def fit_judge(judges: dict[str, list[Path]], size: int, l2: float = 100.0, steps: int = 500) -> DomainJudge:
    """Fit the domain classifier on the judge images (at the size the translations are scored)."""
    extractor = random_extractor()
    images_A, images_B = _load(judges["A"], size), _load(judges["B"], size)
    fa = np.stack([domain_features(i) for i in images_A])
    fb = np.stack([domain_features(i) for i in images_B])
    x = np.concatenate([fa, fb])
    y = np.concatenate([np.zeros(len(fa)), np.ones(len(fb))])
    mean, scale = x.mean(0), x.std(0) + 1e-6
    xt = torch.tensor((x - mean) / scale, dtype=torch.float64)
    yt = torch.tensor(y, dtype=torch.float64)
    weight = torch.tensor(np.where(y == 1, 0.5 / len(fb), 0.5 / len(fa)))   # both sides count alike
    w = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros((), dtype=torch.float64, requires_grad=True)
    optimiser = torch.optim.LBFGS([w, b], max_iter=steps, line_search_fn="strong_wolfe")

    def loss():
        optimiser.zero_grad()
        value = (weight * torch.nn.functional.binary_cross_entropy_with_logits(xt @ w + b, yt, reduction="none")).sum()
        value = value + l2 * (w ** 2).sum() / len(y)
        value.backward()
        return value
    optimiser.step(loss)
    judge = DomainJudge(extractor, mean, scale, w.detach().numpy(), float(b.detach()),
                        extractor.features(images_B), 0.0)
    judge.fit_accuracy = float(((judge.prob_B(x) > 0.5) == (y == 1)).mean())
    return judge


def edge_map(image: Image.Image) -> np.ndarray:
    """Sobel gradient magnitude of the grey image (the border row and column dropped)."""
    g = np.asarray(image.convert("L"), dtype=np.float64) / 255.0
    gx = (g[:-2, 2:] + 2 * g[1:-1, 2:] + g[2:, 2:]) - (g[:-2, :-2] + 2 * g[1:-1, :-2] + g[2:, :-2])
    gy = (g[2:, :-2] + 2 * g[2:, 1:-1] + g[2:, 2:]) - (g[:-2, :-2] + 2 * g[:-2, 1:-1] + g[:-2, 2:])
    return np.hypot(gx, gy)


def structure(photo: Image.Image, translation: Image.Image) -> float:
    """Correlation of the two edge maps (grey, Sobel magnitude) at the photo's size."""
    a = edge_map(photo)
    b = edge_map(translation.resize(photo.size, Image.Resampling.BILINEAR))
    a, b = a - a.mean(), b - b.mean()
    denominator = np.sqrt((a ** 2).sum() * (b ** 2).sum())
    return float((a * b).sum() / denominator) if denominator > 0 else 0.0


@dataclass
class RealScore:
    taken_for_B: float    # share of translations the judge puts on B's side
    kid: float            # x 1000, against the judge images of B
    structure: float      # mean edge correlation with the photo
    count: int
    beyond_colour: float = 0.0   # mean change beyond one colour map per photo, levels of 255 (~0: a recolouring)


def score_real(judge: DomainJudge, photos: list[Image.Image], translations: list[Image.Image]) -> RealScore:
    taken = float((judge.prob_B(np.stack([domain_features(t) for t in translations])) > 0.5).mean())
    fake_features = judge.extractor.features(translations)
    distance = kid(judge.judge_B_features, fake_features, subsets=50, subset_size=100).mean * 1000
    return RealScore(taken, distance, float(np.mean([structure(p, t) for p, t in zip(photos, translations)])),
                     len(translations),
                     float(np.mean([change_beyond_colour_map(p, t) for p, t in zip(photos, translations)])))
