"""Turning untrusted bytes into a clean RGB training image, and the hashes used to dedupe it.

Every check is ours because no downloader library does them (see shared/notes): the format
is sniffed from the bytes (a server's Content-Type and the URL's extension both lie), the
header is checked against a pixel budget before anything is decoded, the file is verified and
then fully decoded (a truncated JPEG fails here instead of in the trainer), EXIF orientation
is applied and transparency is composited over white.
"""
from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..data.images import to_rgb

# Formats we accept, by their first bytes. Anything else (HTML, SVG, PDF, video) is not a photo.
_MAGIC = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    *((f"P{n}".encode(), "PPM") for n in range(1, 7)),  # netpbm, which list_images also reads
)
LOSSLESS_FORMATS = {"PNG", "GIF", "BMP", "TIFF", "PPM"}

DEFAULT_MAX_PIXELS = 64_000_000  # below Pillow's own 89.5 Mpx warning, so a bomb never gets near it
DEFAULT_MIN_SIZE = 128
DEFAULT_DEDUPE_DISTANCE = 8  # of 64 bits: catches resizes and re-encodes, distinct photos sit >= ~20 apart

# Errors Pillow raises on broken or hostile files; all mean "not usable".
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError,
                  UnidentifiedImageError, Image.DecompressionBombError)


class Rejected(Exception):
    """An image we will not keep; ``kind`` is the summary bucket (corrupt, too_small)."""

    def __init__(self, kind: str, detail: str):
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


def sniff_format(data: bytes) -> str | None:
    """The image format the bytes really hold, or None when they are not an accepted image."""
    for magic, name in _MAGIC:
        if data.startswith(magic):
            return name
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def decode_image(data: bytes, *, min_size: int = DEFAULT_MIN_SIZE,
                 max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[Image.Image, str]:
    """Validate and fully decode ``data``; return (RGB image upright, source format).

    Raises Rejected('corrupt', ...) for anything that is not a whole, sane image and
    Rejected('too_small', ...) when its short side is under ``min_size``.
    """
    fmt = sniff_format(data)
    if fmt is None:
        head = data[:16].decode("latin-1").encode("unicode_escape").decode("ascii")
        raise Rejected("corrupt", f"not an image (starts with {head!r})")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            width, height = probe.size
            if probe.format != fmt:
                raise Rejected("corrupt", f"bytes say {fmt} but Pillow reads {probe.format}")
            if width * height > max_pixels:
                raise Rejected("corrupt", f"{width}x{height} exceeds the {max_pixels} pixel limit "
                               "(decompression bomb guard)")
            probe.verify()
        with Image.open(io.BytesIO(data)) as image:
            image.load()  # a truncated file fails here (LOAD_TRUNCATED_IMAGES stays off)
            rgb = to_rgb(ImageOps.exif_transpose(image))
    except Rejected:
        raise
    except _DECODE_ERRORS as exc:
        raise Rejected("corrupt", f"cannot decode ({type(exc).__name__}: {exc})") from None
    if min(rgb.size) < min_size:
        raise Rejected("too_small", f"{rgb.width}x{rgb.height} is under --min-size {min_size}")
    return rgb, fmt


def downscale(image: Image.Image, max_side: int | None) -> Image.Image:
    """Shrink so the longer side is at most ``max_side`` (aspect kept); never enlarges."""
    if not max_side or max(image.size) <= max_side:
        return image
    scale = max_side / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def output_format(source_format: str, choice: str = "auto") -> str:
    """'jpg' or 'png': lossless sources stay lossless under 'auto', photos become JPEG."""
    if choice in ("jpg", "png"):
        return choice
    return "png" if source_format in LOSSLESS_FORMATS else "jpg"


def encode(image: Image.Image, fmt: str) -> bytes:
    """RGB image to file bytes; no metadata is carried over (EXIF can hold GPS positions)."""
    buffer = io.BytesIO()
    if fmt == "jpg":
        image.save(buffer, "JPEG", quality=95, subsampling=0)
    else:
        image.save(buffer, "PNG", optimize=False)
    return buffer.getvalue()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _dct_matrix(n: int) -> np.ndarray:
    """Orthonormal DCT-II basis: row k holds cos(pi * (2i + 1) * k / 2n)."""
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    basis = np.cos(np.pi * (2 * i + 1) * k / (2 * n)) * np.sqrt(2.0 / n)
    basis[0] /= np.sqrt(2.0)
    return basis


_DCT32 = _dct_matrix(32)


def perceptual_hash(image: Image.Image) -> str:
    """64-bit DCT perceptual hash (the pHash of Zauner 2010, as imagehash.phash computes it).

    Gray 32x32 thumbnail -> 2-D DCT -> the 8x8 lowest frequencies -> one bit per
    coefficient above their median. Resizes and re-encodes flip few bits; different
    pictures differ in about half of them. Returned as 16 hex digits.
    """
    gray = image.convert("L").resize((32, 32), Image.Resampling.LANCZOS)
    pixels = np.asarray(gray, dtype=np.float64)
    low = (_DCT32 @ pixels @ _DCT32.T)[:8, :8]
    bits = (low > np.median(low)).flatten()
    value = 0
    for bit in bits:
        value = (value << 1) | int(bit)
    return f"{value:016x}"


def hash_distance(a: str, b: str) -> int:
    """Number of differing bits between two hex perceptual hashes."""
    return (int(a, 16) ^ int(b, 16)).bit_count()


def split_for(content_sha256: str, test_fraction: float) -> str:
    """'train' or 'test', decided by the content hash alone so re-runs never move an image."""
    position = int(content_sha256[:12], 16) / float(16 ** 12)
    return "test" if position < test_fraction else "train"


@dataclass(frozen=True)
class CleanedImage:
    """An image ready to be written: its bytes, extension and everything the manifest records."""
    data: bytes
    ext: str
    sha256: str
    source_sha256: str
    phash: str
    width: int
    height: int
    source_format: str


def clean_bytes(data: bytes, *, min_size: int = DEFAULT_MIN_SIZE, max_side: int | None = None,
                max_pixels: int = DEFAULT_MAX_PIXELS, fmt_choice: str = "auto") -> CleanedImage:
    """The whole hygiene pipeline for one downloaded or existing file (raises Rejected)."""
    image, source_format = decode_image(data, min_size=min_size, max_pixels=max_pixels)
    image = downscale(image, max_side)
    ext = output_format(source_format, fmt_choice)
    out = encode(image, ext)
    return CleanedImage(out, ext, sha256_hex(out), sha256_hex(data), perceptual_hash(image),
                        image.width, image.height, source_format)
