"""Images in and out of the networks: the one home of every tensor <-> image conversion.

The networks see float tensors C x H x W in [-1, 1] (C = 3 for RGB, 1 for grayscale); people
see 8-bit images. ``x = pixel / 127.5 - 1`` on the way in, ``pixel = round((x + 1) * 127.5)``
(clipped) on the way out, so a saved PNG round-trips exactly. Data loading, translation,
sampling, the report and the metrics all convert here, and so all agree to the last bit.

Also here: the resizes that go with it (short side to a size, then an optional centre crop),
alpha kept aside while the content is translated, and encoding to PNG/JPEG/WebP/GIF bytes.
Nothing here knows about runs, networks or training.
"""
from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image, ImageOps
from torch import Tensor

FORMATS = {"png": "PNG", "jpg": "JPEG", "webp": "WEBP"}
ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")


# --------------------------------------------------------------------------- tensor <-> image

def to_tensor(image: Image.Image, channels: int | None = None) -> Tensor:
    """An 8-bit RGB or grayscale image -> float C x H x W in [-1, 1].

    ``channels`` 1 or 3 converts the image first (luminance for 1); None takes it as it is.
    """
    if channels is not None:
        image = image.convert("L" if channels == 1 else "RGB")
    array = np.asarray(image, dtype=np.float32)
    if array.ndim == 2:
        array = array[:, :, None]
    return torch.from_numpy(array).permute(2, 0, 1).div(127.5).sub(1.0).contiguous()


def to_uint8(tensor: Tensor) -> Tensor:
    """Values in [-1, 1] (any shape) -> uint8 on the CPU: the pixels a saved PNG holds."""
    return ((tensor.detach().float().cpu().clamp(-1, 1) + 1.0) * 127.5).round().byte()


def to_image(tensor: Tensor, rgb: bool = False) -> Image.Image:
    """One C x H x W tensor in [-1, 1] -> an 8-bit image: RGB for 3 channels, grayscale ("L")
    for 1 channel, or that gray as RGB with ``rgb``."""
    pixels = to_uint8(tensor)
    if pixels.shape[0] == 1:
        gray = Image.fromarray(pixels[0].numpy(), "L")
        return gray.convert("RGB") if rgb else gray
    return Image.fromarray(pixels.permute(1, 2, 0).numpy(), "RGB")


def to_images(batch: Tensor, rgb: bool = False) -> list[Image.Image]:
    """N x C x H x W in [-1, 1] -> N images (see ``to_image``)."""
    return [to_image(x, rgb) for x in batch]


# --------------------------------------------------------------------------- sizes

def resize_short_side(image: Image.Image, size: int, reducing_gap: float | None = None) -> Image.Image:
    """The shorter side to ``size`` pixels (bicubic), the aspect ratio kept.

    ``reducing_gap`` (Pillow's) is used only when shrinking: area-averaging first, so a large
    image does not alias.
    """
    width, height = image.size
    scale = size / min(width, height)
    new = (max(1, round(width * scale)), max(1, round(height * scale)))
    if new == image.size:
        return image
    return image.resize(new, Image.BICUBIC, reducing_gap=reducing_gap if scale < 1 else None)


def centre_crop(image: Image.Image, size: int) -> Image.Image:
    """The central ``size`` x ``size`` square."""
    left, top = (image.width - size) // 2, (image.height - size) // 2
    return image.crop((left, top, left + size, top + size))


def resize_and_centre_crop(image: Image.Image, size: int, reducing_gap: float | None = None) -> Image.Image:
    """Shorter side to ``size``, then the central square: a fixed view of any photo."""
    return centre_crop(resize_short_side(image, size, reducing_gap), size)


# --------------------------------------------------------------------------- alpha

def split_alpha(image: Image.Image) -> tuple[Image.Image, Image.Image | None]:
    """(the image without transparency, its alpha or None). The colour under transparent
    pixels is kept as it is: the alpha is put back afterwards with ``attach_alpha``."""
    if image.mode in ALPHA_MODES or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        return rgba.convert("RGB"), rgba.getchannel("A")
    return image, None


def attach_alpha(image: Image.Image, alpha: Image.Image | None) -> Image.Image:
    if alpha is None:
        return image
    out = image.convert("RGBA")
    out.putalpha(alpha)
    return out


def upright(image: Image.Image) -> Image.Image:
    """EXIF orientation applied (decodes the image fully)."""
    return ImageOps.exif_transpose(image)


# --------------------------------------------------------------------------- composing and encoding

def side_by_side(before: Image.Image, after: Image.Image) -> Image.Image:
    """``before`` and ``after`` next to each other on white (RGBA when ``after`` has alpha)."""
    mode = "RGBA" if "A" in after.mode else "RGB"
    canvas = Image.new(mode, (before.width + after.width, max(before.height, after.height)), "white")
    canvas.paste(before.convert(mode), (0, 0))
    canvas.paste(after.convert(mode), (before.width, 0))
    return canvas


def encode(image: Image.Image, fmt: str = "png") -> bytes:
    """The file bytes of ``image`` as png, jpg (quality 95; alpha shown on white) or webp (quality 95)."""
    if fmt == "jpg" and image.mode == "RGBA":  # JPEG has no alpha: show it as a viewer would, on white
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image).convert("RGB")
    buffer = io.BytesIO()
    options = {"jpg": {"quality": 95}, "webp": {"quality": 95}, "png": {}}[fmt]
    image.save(buffer, FORMATS[fmt], **options)
    return buffer.getvalue()


def png_bytes(image: Image.Image) -> bytes:
    return encode(image, "png")


def gif_bytes(frames: list[Image.Image], durations_ms: list[int] | int = 400, optimize: bool | None = None,
              disposal: int | None = None) -> bytes:
    """An endlessly looping GIF of ``frames`` (RGB), each shown for its duration."""
    if not frames:
        raise ValueError("a GIF needs at least one frame")
    frames = [frame.convert("RGB") for frame in frames]
    options = {k: v for k, v in (("optimize", optimize), ("disposal", disposal)) if v is not None}
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=durations_ms,
                   loop=0, **options)
    return buffer.getvalue()
