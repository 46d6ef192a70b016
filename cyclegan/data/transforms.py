"""Preprocessing (``--preprocess``) with randomness drawn from an explicit generator.

Each call receives its own ``numpy.random.Generator`` seeded from (run seed, epoch, position),
so crops and flips do not depend on worker processes or on where a resumed run restarted.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from ..errors import UserError
from ..images import to_tensor

PREPROCESS_MODES = ("resize_and_crop", "scale_width_and_crop", "crop", "scale_width", "none")


@dataclass(frozen=True)
class Preprocess:
    mode: str = "resize_and_crop"
    load_size: int = 286
    crop_size: int = 256
    flip: bool = True

    def __post_init__(self):
        if self.mode not in PREPROCESS_MODES:
            raise UserError(f"--preprocess {self.mode!r} is not known; use one of {', '.join(PREPROCESS_MODES)}")
        if "crop" in self.mode and self.crop_size > self.load_size and self.mode != "crop":
            raise UserError(f"--crop_size {self.crop_size} is larger than --load_size {self.load_size}; "
                            "make --load_size at least --crop_size")
        if self.crop_size % 4 or self.crop_size < 8:
            raise UserError(f"--crop_size {self.crop_size} must be a multiple of 4 and at least 8 "
                            "(the generator downsamples twice)")

    def __call__(self, image: Image.Image, rng: np.random.Generator) -> torch.Tensor:
        return self.augment(self.prepare(image), rng)

    def prepare(self, image: Image.Image) -> Image.Image:
        """The deterministic part (resizing): its result may be cached across epochs."""
        if self.mode == "resize_and_crop":
            return image.resize((self.load_size, self.load_size), Image.BICUBIC)
        if self.mode in ("scale_width_and_crop", "scale_width"):
            return _scale_width(image, self.load_size, self.crop_size)
        return image

    def augment(self, image: Image.Image, rng: np.random.Generator) -> torch.Tensor:
        """The random part (crop, flip), drawn from ``rng``, then conversion to a tensor."""
        if "crop" in self.mode:
            image = _random_crop(image, self.crop_size, rng)
        image = _resize_to_multiple(image, 4)
        if self.flip and rng.random() < 0.5:
            image = image.transpose(Image.FLIP_LEFT_RIGHT)
        return to_tensor(image)


def _scale_width(image: Image.Image, target_width: int, crop_size: int) -> Image.Image:
    width, height = image.size
    if width == target_width and height >= crop_size:
        return image
    new_height = max(int(round(target_width * height / width)), crop_size)
    return image.resize((target_width, new_height), Image.BICUBIC)


def _random_crop(image: Image.Image, size: int, rng: np.random.Generator) -> Image.Image:
    width, height = image.size
    if width < size or height < size:  # small images are enlarged rather than refused
        scale = size / min(width, height)
        image = image.resize((max(size, round(width * scale)), max(size, round(height * scale))), Image.BICUBIC)
        width, height = image.size
    x = int(rng.integers(0, width - size + 1))
    y = int(rng.integers(0, height - size + 1))
    return image.crop((x, y, x + size, y + size))


def _resize_to_multiple(image: Image.Image, base: int) -> Image.Image:
    """The generator needs sides that are multiples of 4; nudge the size when they are not."""
    width, height = image.size
    new = (max(base, round(width / base) * base), max(base, round(height / base) * base))
    return image if new == (width, height) else image.resize(new, Image.BICUBIC)
