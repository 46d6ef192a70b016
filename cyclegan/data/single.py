"""One domain on its own, for the DCGAN baseline: every training image of domain A once per epoch.

Items are keyed by ``(index, seed)`` exactly like ``UnalignedDataset``, so ``epoch_loader`` (and
with it shuffling, exact resume and sharding) works unchanged; a batch is ``{"A": tensor}``.
Images are resized so the shorter side is ``image_size``, center-cropped to a square (the
DCGAN paper's pipeline), flipped at random unless ``--no_flip``, and converted to grayscale
when ``channels`` is 1.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from ..config import Config
from ..errors import UserError
from ..models.dcgan import check_image_shape
from .domains import Domain, resolve_domain, train_images
from .images import load_rgb, readable_images, shown
from .unaligned import DEFAULT_CACHE_BYTES, DecodedCache, load_with_fallback


def resize_center_crop(image: Image.Image, size: int) -> Image.Image:
    """Shorter side to ``size`` (area-averaging when shrinking), then the central square."""
    width, height = image.size
    scale = size / min(width, height)
    new = (max(size, round(width * scale)), max(size, round(height * scale)))
    if new != (width, height):
        image = image.resize(new, Image.BICUBIC, reducing_gap=None if scale >= 1 else 3.0)
    left, top = (new[0] - size) // 2, (new[1] - size) // 2
    return image.crop((left, top, left + size, top + size))


def image_to_tensor(image: Image.Image, channels: int) -> torch.Tensor:
    """RGB image -> float channels x H x W in [-1, 1] (luminance when channels is 1)."""
    array = np.asarray(image.convert("L" if channels == 1 else "RGB"), dtype=np.float32)
    if array.ndim == 2:
        array = array[:, :, None]
    return torch.from_numpy(array).permute(2, 0, 1).div(127.5).sub(1.0).contiguous()


class SingleDomainDataset(Dataset):
    def __init__(self, paths: list[Path], image_size: int, channels: int, flip: bool = True,
                 cache_bytes: int = DEFAULT_CACHE_BYTES):
        self.paths = list(paths)
        self.image_size, self.channels, self.flip = image_size, channels, flip
        self.cache = DecodedCache(cache_bytes)  # resized images: later epochs skip decoding

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, key: tuple[int, int]) -> dict:
        index, seed = key
        rng = np.random.default_rng(seed)
        image, path = load_with_fallback(self.paths, index % len(self.paths), self._decode, self.cache)
        if self.flip and rng.random() < 0.5:
            image = image.transpose(Image.FLIP_LEFT_RIGHT)
        return {"A": image_to_tensor(image, self.channels), "A_paths": str(path)}

    def _decode(self, path: Path) -> Image.Image:
        return resize_center_crop(load_rgb(path), self.image_size)


def resolve_single_domain(cfg: Config) -> Domain:
    d = cfg.data
    if d.domainA:
        return resolve_domain(d.domainA, d.datasets_dir, "--domainA")
    if d.dataroot:  # the reference layout: DCGAN learns trainA
        root = Path(d.dataroot).expanduser()
        if not (root / "trainA").is_dir():
            raise UserError(f"--dataroot {shown(d.dataroot)}: no trainA/ folder to train the DCGAN on")
        test = root / "testA"
        return Domain(f"{shown(root.name)}A", root, root / "trainA", test if test.is_dir() else None)
    raise UserError("--model dcgan needs the domain to learn: --domainA NAME (a name under "
                    "--datasets-dir, or a folder of images)")


def load_single_domain(cfg: Config) -> SingleDomainDataset:
    """Domain A's training images as a DCGAN training set."""
    domain = resolve_single_domain(cfg)
    paths = readable_images(train_images(domain, "--domainA"), f"--domainA {shown(domain.train_dir)}")
    if not paths:
        raise UserError(f"--domainA: none of the images in {shown(domain.train_dir)} can be read; "
                        "add .jpg/.png files that open in an image viewer")
    if cfg.data.batch_size < 1:
        raise UserError(f"--batch_size {cfg.data.batch_size} must be at least 1")
    check_image_shape(cfg.model.image_size, cfg.model.channels)   # a clear error for an unsupported size
    return SingleDomainDataset(paths, cfg.model.image_size, cfg.model.channels, flip=not cfg.data.no_flip)
