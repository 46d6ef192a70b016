"""Preprocessing (``--preprocess``) with randomness drawn from an explicit generator.

Each call receives its own ``numpy.random.Generator`` seeded from (run seed, epoch, position),
so crops and flips do not depend on worker processes or on where a resumed run restarted.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..errors import UserError
from .pixels import to_tensor
from .images import shown

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

    def output_size(self, width: int, height: int) -> tuple[int, int]:
        """(width, height) of the tensor an image of this size becomes, without decoding it."""
        if "crop" in self.mode:
            return self.crop_size, self.crop_size
        if self.mode == "scale_width":
            width, height = _scale_width_size(width, height, self.load_size, self.crop_size)
        return _multiple_size(width, height, 4)

    def augment(self, image: Image.Image, rng: np.random.Generator) -> torch.Tensor:
        """The random part (crop, flip), drawn from ``rng``, then conversion to a tensor."""
        if "crop" in self.mode:
            image = _random_crop(image, self.crop_size, rng)
        image = _resize_to_multiple(image, 4)
        if self.flip and rng.random() < 0.5:
            image = image.transpose(Image.FLIP_LEFT_RIGHT)
        return to_tensor(image)


def _scale_width(image: Image.Image, target_width: int, crop_size: int) -> Image.Image:
    size = _scale_width_size(*image.size, target_width, crop_size)
    return image if size == image.size else image.resize(size, Image.BICUBIC)


def _scale_width_size(width: int, height: int, target_width: int, crop_size: int) -> tuple[int, int]:
    """The width becomes ``target_width``, the height keeps the aspect ratio but is at least ``crop_size``."""
    if width == target_width and height >= crop_size:
        return width, height
    return target_width, max(int(round(target_width * height / width)), crop_size)


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
    new = _multiple_size(*image.size, base)
    return image if new == image.size else image.resize(new, Image.BICUBIC)


def _multiple_size(width: int, height: int, base: int) -> tuple[int, int]:
    return max(base, round(width / base) * base), max(base, round(height / base) * base)


def check_one_size(paths: list[Path], preprocess: Preprocess, batch_size: int, what: str) -> None:
    """Refuse, before training, images that would come out of ``preprocess`` in several sizes when a
    batch stacks more than one of them (torch.stack fails on the first mixed batch, mid-run).
    Reads only the headers. Crops give every image one size: nothing to read then."""
    if batch_size < 2 or "crop" in preprocess.mode:
        return
    first: dict[tuple[int, int], Path] = {}
    for path in paths:
        try:
            with Image.open(path) as image:
                size = preprocess.output_size(*image.size)
        except Exception:   # unreadable files were skipped already; a file changed since is the loader's
            continue
        first.setdefault(size, path)
    if len(first) > 1:
        (size_a, path_a), (size_b, path_b) = list(first.items())[:2]
        raise UserError(f"--preprocess {preprocess.mode} with --batch_size {batch_size}: the images of {what} "
                        f"come out in {len(first)} sizes ({shown(path_a.name)} {size_a[0]}x{size_a[1]}, "
                        f"{shown(path_b.name)} {size_b[0]}x{size_b[1]}) and a batch needs one; use --batch_size 1, "
                        "or --preprocess resize_and_crop to give every image one size")
