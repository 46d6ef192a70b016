"""Finding image files and decoding any of them to 8-bit RGB."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp", ".gif")

# Pillow's decompression-bomb guard stays on: a pathological file raises instead of eating memory.
Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS or 178_956_970


def is_image_file(path: Path) -> bool:
    return path.suffix.lower() in IMG_EXTENSIONS and not path.name.startswith(".")


def list_images(folder: Path) -> list[Path]:
    """Image files directly in ``folder``, sorted by name (so runs are reproducible)."""
    return sorted(p for p in Path(folder).iterdir() if p.is_file() and is_image_file(p))


def to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow image as 8-bit RGB.

    Grayscale, palette and CMYK convert directly; transparency is composited onto white
    (dropping alpha would expose whatever colour hides under transparent pixels); 16- and
    32-bit grayscale are rescaled to 8 bits instead of being clipped to white.
    """
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        array = np.asarray(image, dtype=np.float64)
        # Full scale is 1.0 for float images and 16 bits for integer ones, unless the data exceed it.
        top = max(1.0 if image.mode == "F" else 65535.0, float(array.max()))
        gray = np.clip(array / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(gray, "L").convert("RGB")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def load_rgb(path: Path) -> Image.Image:
    """Decode ``path`` fully as RGB; raises OSError / UnidentifiedImageError when it cannot."""
    with Image.open(path) as image:
        image.load()
        return to_rgb(image)


def readable_images(paths: list[Path], what: str) -> list[Path]:
    """Keep the files whose header Pillow can read; warn once with the count of the rest."""
    good, bad = [], []
    for path in paths:
        try:
            with Image.open(path) as image:
                image.size  # header parsed
            good.append(path)
        except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError):
            bad.append(path)
    if bad:
        example = bad[0].name
        warnings.warn(f"{what}: skipped {len(bad)} unreadable image file(s) (e.g. {example})",
                      stacklevel=2)
    return good
