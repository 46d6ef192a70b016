"""A quality bar for generated digits that needs nothing from the internet.

Real data: scikit-learn's ``load_digits()`` (1797 handwritten 8x8 digits, ink 0..16), upsampled
to 32x32 grayscale. A small CNN trained on a split of it is the judge:

- ``confident``: the fraction of generated images it labels with probability > 0.9,
- ``classes_present``: how many of the 10 digits get at least 5% of the generated images,
- ``frechet``: the Fréchet distance between real and generated images in its penultimate
  features (the FID recipe with a digit classifier in place of Inception); compare it with
  the same distance between two halves of the real digits.

Images everywhere here are float tensors N x 1 x 32 x 32 in [-1, 1] (the generator's range).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..data.pixels import to_image
from . import fid

DIGIT_SIZE = 32
CONFIDENCE = 0.9
CLASS_SHARE = 0.05


def load_digit_images(size: int = DIGIT_SIZE) -> tuple[Tensor, Tensor]:
    """All 1797 digits as N x 1 x size x size in [-1, 1] (ink bright) and their labels."""
    from sklearn.datasets import load_digits  # scikit-learn is slow to import and only this needs it
    digits = load_digits()
    small = torch.from_numpy(digits.images.astype(np.float32) / 16.0)[:, None]   # N x 1 x 8 x 8 in [0, 1]
    # Bilinear upsampling keeps strokes smooth; the 8x8 source has no finer detail to keep.
    large = F.interpolate(small, size=(size, size), mode="bilinear", align_corners=False)
    return large.clamp(0, 1) * 2.0 - 1.0, torch.from_numpy(digits.target.astype(np.int64))


def write_digit_folder(images: Tensor, folder: Path) -> Path:
    """Save images as 8-bit grayscale PNGs (a domain folder that ``--domainA`` can point at)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(images):
        to_image(image).save(folder / f"digit_{i:04d}.png")
    return folder


def split_indices(n: int, seed: int, held_out: float = 0.2) -> tuple[Tensor, Tensor]:
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    cut = int(round(n * (1 - held_out)))
    return order[:cut], order[cut:]


class DigitClassifier(nn.Module):
    """Three conv stages and a 64-wide penultimate layer (the features the Fréchet distance uses)."""

    FEATURES = 64

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),    # N x 16 x 16 x 16
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # N x 32 x 8 x 8
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # N x 64 x 4 x 4
            nn.Flatten(),                                                  # N x 1024
            nn.Linear(64 * 4 * 4, self.FEATURES), nn.ReLU(),               # N x 64: penultimate
        )
        self.head = nn.Linear(self.FEATURES, 10)                           # N x 10 logits

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


def _shift(images: Tensor, generator: torch.Generator, max_shift: int = 2) -> Tensor:
    """Random translations by up to max_shift pixels: generated digits are rarely centred exactly."""
    dx, dy = torch.randint(-max_shift, max_shift + 1, (2,), generator=generator).tolist()
    return torch.roll(images, shifts=(dy, dx), dims=(2, 3))


def train_classifier(images: Tensor, labels: Tensor, epochs: int = 12, seed: int = 0,
                     batch_size: int = 64) -> DigitClassifier:
    torch.manual_seed(seed)
    model = DigitClassifier()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    generator = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(images), generator=generator)
        for start in range(0, len(images), batch_size):
            index = order[start:start + batch_size]
            loss = F.cross_entropy(model(_shift(images[index], generator)), labels[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return model.eval()


@torch.no_grad()
def predict(model: DigitClassifier, images: Tensor, batch_size: int = 500) -> tuple[Tensor, Tensor]:
    """Class probabilities (N x 10) and penultimate features (N x 64)."""
    model.eval()
    probabilities, features = [], []
    for start in range(0, len(images), batch_size):
        f = model.features(images[start:start + batch_size])
        features.append(f)
        probabilities.append(model.head(f).softmax(dim=1))
    return torch.cat(probabilities), torch.cat(features)


def accuracy(model: DigitClassifier, images: Tensor, labels: Tensor) -> float:
    probabilities, _ = predict(model, images)
    return float((probabilities.argmax(dim=1) == labels).float().mean())


def frechet_distance(features_a: Tensor | np.ndarray, features_b: Tensor | np.ndarray) -> float:
    """The Fréchet distance between two feature sets (rows = samples): ``cyclegan.metrics.fid``."""
    return fid(np.asarray(features_a), np.asarray(features_b))


def nearest_distances(images: Tensor, pool: Tensor, same_set: bool = False) -> Tensor:
    """For each image, the root-mean-square pixel difference to its nearest image in ``pool``
    (excluding itself when ``same_set``). A generator that copies its training digits shows
    distances far below those between different real digits."""
    flat_pool = pool.flatten(1).double()
    nearest = []
    for start in range(0, len(images), 256):
        chunk = images[start:start + 256].flatten(1).double()
        distances = torch.cdist(chunk, flat_pool)
        if same_set:
            rows = torch.arange(len(chunk))
            distances[rows, rows + start] = float("inf")
        nearest.append(distances.min(dim=1).values)
    return (torch.cat(nearest) / flat_pool.shape[1] ** 0.5).float()


@dataclass
class DigitsQuality:
    confident: float          # fraction of images labelled with probability > 0.9
    classes_present: int      # digits that get >= 5% of the images
    frechet: float            # Fréchet distance to the reference real images' features
    class_shares: list[float]

    def row(self) -> str:
        return f"{self.confident:6.1%}  {self.classes_present:2d}/10  {self.frechet:9.2f}"


def measure(model: DigitClassifier, images: Tensor, reference_features: Tensor) -> DigitsQuality:
    probabilities, features = predict(model, images)
    confident = float((probabilities.max(dim=1).values > CONFIDENCE).float().mean())
    shares = torch.bincount(probabilities.argmax(dim=1), minlength=10).float() / len(images)
    return DigitsQuality(confident, int((shares >= CLASS_SHARE).sum()),
                         frechet_distance(features, reference_features), shares.tolist())


@dataclass
class DigitsJudge:
    """The trained classifier plus the real images it compares against."""
    model: DigitClassifier
    held_out_accuracy: float
    reference_features: Tensor   # features of real half B (what generated images are compared with)
    real_vs_real: float          # Fréchet distance between real half A and real half B
    real_quality: DigitsQuality  # the measures on real half A, for scale


JUDGE_EPOCHS = 40


def build_judge(seed: int = 0, epochs: int = JUDGE_EPOCHS) -> DigitsJudge:
    """Train the classifier on 80% of the digits, score it on the other 20%, and prepare the
    real-vs-real reference on two random halves of all 1797 digits.

    40 epochs trains the judge to convergence (99.4% held out, about 40 CPU s). A judge stopped
    at 12 epochs still passes the 97% bar (98.9%) but is unsure of real digits too (96% of
    them confident instead of 99%), which would mark generated digits down for the judge's
    own lack of training."""
    images, labels = load_digit_images()
    train_index, test_index = split_indices(len(images), seed)
    model = train_classifier(images[train_index], labels[train_index], epochs=epochs, seed=seed)
    held_out = accuracy(model, images[test_index], labels[test_index])
    half_a, half_b = split_indices(len(images), seed + 1, held_out=0.5)
    _, features_b = predict(model, images[half_b])
    real_quality = measure(model, images[half_a], features_b)
    return DigitsJudge(model, held_out, features_b, real_quality.frechet, real_quality)
