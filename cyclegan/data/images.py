"""Finding image files and decoding any of them to 8-bit RGB."""
from __future__ import annotations

import os
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp", ".gif")

# Pillow's decompression-bomb guard stays on: a pathological file raises instead of eating memory.
Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS or 178_956_970


def is_image_file(path: Path) -> bool:
    return path.suffix.lower() in IMG_EXTENSIONS and not path.name.startswith(".")


def shown(path: Path | str) -> str:
    """``path`` as printable text: bytes that are not UTF-8 in a file name (which Python keeps
    as lone surrogates, and which no UTF-8 stream can write) appear as ``\\xe9`` escapes."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def list_images(folder: Path) -> list[Path]:
    """Image files directly in ``folder``, sorted by name (so runs are reproducible)."""
    return sorted(p for p in Path(folder).iterdir() if p.is_file() and is_image_file(p))


def find_images(folder: Path, exclude: tuple[str, ...] = ()) -> list[Path]:
    """Image files in ``folder`` and every folder below it, sorted by path.

    The reference's ``make_dataset`` walks subfolders (following symlinks), so a domain laid
    out as ``trainA/cats/*.jpg`` trains on all of them here too. Each real folder is visited
    once, so a symlink loop ends where it starts; hidden folders (``.clean-removed``), folders
    named in ``exclude`` directly under ``folder``, and anything that is not a regular file
    (fifos, sockets, devices, broken links) are skipped.
    """
    folder = Path(folder)
    found: list[Path] = []
    seen: set[tuple[int, int]] = set()
    stack = [folder]
    while stack:
        current = stack.pop()
        try:
            info = current.stat()
            if (info.st_dev, info.st_ino) in seen:
                continue
            seen.add((info.st_dev, info.st_ino))
            with os.scandir(current) as listing:
                entries = list(listing)
        except OSError:  # unreadable folder, or a link that loops on itself
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                if entry.is_dir():  # follows symlinks, like the reference's os.walk(followlinks=True)
                    if not (current == folder and entry.name in exclude):
                        stack.append(Path(entry.path))
                elif entry.is_file() and is_image_file(Path(entry.name)):  # False for fifos and sockets
                    found.append(Path(entry.path))
            except OSError:
                continue
    return sorted(found)


def nesting_summary(folder: Path, paths: list[Path]) -> str | None:
    """'7 images, subfolders included: 1 directly in it, 4 one folder down, ...', or None when
    every image lies directly in ``folder``."""
    depths = Counter(len(Path(p).relative_to(folder).parts) - 1 for p in paths)
    if not any(depths.keys() - {0}):
        return None
    words = {0: "directly in it", 1: "one folder down", 2: "two folders down"}
    levels = ", ".join(f"{count} {words.get(depth, f'{depth} folders down')}" for depth, count in sorted(depths.items()))
    return f"{len(paths)} images, subfolders included (as the reference does): {levels}"


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


def decode_or_skip(path: Path, what: str) -> Image.Image | None:
    """``path`` decoded as RGB, or None after a one-line warning naming it: a truncated file
    passes the header check and fails only here, and one such file must not cost the others."""
    try:
        return load_rgb(path)
    except Exception as exc:  # Pillow raises many types for truncated or hostile data
        reason = " ".join(str(exc).split()) or type(exc).__name__
        warnings.warn(f"{shown(what)}: skipped {shown(path)}, which cannot be decoded ({reason})", stacklevel=2)
        return None


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
        example = shown(bad[0].name)
        warnings.warn(f"{shown(what)}: skipped {len(bad)} unreadable image file(s) (e.g. {example})",
                      stacklevel=2)
    return good


def first_decodable(paths: list[Path]) -> tuple[Path | None, str]:
    """The first of ``paths`` that decodes completely (None if none does), and why the first
    failure failed. Cheap when the data are sound: it stops at the first good image."""
    reason = ""
    for path in paths:
        try:
            load_rgb(path)
            return path, reason
        except Exception as exc:  # Pillow raises many types for truncated or hostile data
            reason = reason or f"{shown(path.name)}: {' '.join(str(exc).split()) or type(exc).__name__}"
    return None, reason


def header_readable(path: Path) -> bool:
    try:
        with Image.open(path) as image:
            image.size
        return True
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError):
        return False
