"""Known-answer pairs: exact photo -> "B" transforms far from the identity, for the quality suite.

Each pair is a deterministic transform of an RGB photo with one strength parameter. The quality
suite (``scripts/quality_suite.py``) builds demo domains with it (``build_demo_domains(...,
transform=...)``: B is the transform of *other* crops, B's test images are the exact transforms
of A's test images), so a translation can be scored against its truth. The strength of a pair
is drawn per seed from the range stated here (``draw_strength``), so that no recipe can be tuned
to one constant, and the kinds differ: global colour, tone and local texture.

Every transform maps [0, 1] RGB to [0, 1] RGB and is pure numpy/PIL: the same input and
strength always give the same bytes.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

from ..errors import UserError

_LUMA = np.array([0.299, 0.587, 0.114])   # ITU-R BT.601

# the five permutations of (R, G, B) that move at least two channels, strength 0..4
_PERMUTATIONS = ((1, 2, 0), (2, 0, 1), (2, 1, 0), (1, 0, 2), (0, 2, 1))


def _as_float(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.float64) / 255.0


def _as_image(rgb: np.ndarray) -> Image.Image:
    return Image.fromarray(np.round(np.clip(rgb, 0.0, 1.0) * 255.0).astype(np.uint8), mode="RGB")


def hue_rotation(image: Image.Image, degrees: float) -> Image.Image:
    """Rotate every colour about the grey axis of RGB space by ``degrees`` (a linear map; greys stay)."""
    theta = np.deg2rad(degrees)
    axis = np.ones(3) / np.sqrt(3.0)
    cross = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    rotation = np.cos(theta) * np.eye(3) + np.sin(theta) * cross + (1 - np.cos(theta)) * np.outer(axis, axis)
    return _as_image(_as_float(image) @ rotation.T)


def channel_permutation(image: Image.Image, which: float) -> Image.Image:
    """Swap the colour channels: permutation number ``which`` (0-4) of ``_PERMUTATIONS``."""
    return _as_image(_as_float(image)[..., list(_PERMUTATIONS[int(which) % len(_PERMUTATIONS)])])


def inversion(image: Image.Image, amount: float) -> Image.Image:
    """The negative, mixed with the photo: ``amount`` 1 is the plain negative."""
    rgb = _as_float(image)
    return _as_image(amount * (1.0 - rgb) + (1.0 - amount) * rgb)


def tone_curve(image: Image.Image, gamma: float) -> Image.Image:
    """A strong tone curve on luminance: a steep S-curve of mid-tones after a gamma lift.

    ``gamma`` < 1 lifts the shadows; the S-curve (logistic, slope 10) then crushes both ends,
    so the photo's tonal balance changes strongly while its hue stays.
    """
    rgb = _as_float(image) ** gamma
    s_curve = lambda v: (1 / (1 + np.exp(-10 * (v - 0.5))) - 1 / (1 + np.exp(5))) / (1 - 2 / (1 + np.exp(5)))
    return _as_image(s_curve(rgb))


def posterise_edges(image: Image.Image, levels: float) -> Image.Image:
    """A poster: a 3x3 median, ``levels`` flat levels per channel, and dark outlines along edges."""
    smoothed = image.convert("RGB").filter(ImageFilter.MedianFilter(3))
    rgb = _as_float(smoothed)
    n = int(round(levels))
    poster = np.round(rgb * (n - 1)) / (n - 1)
    grey = np.asarray(smoothed.convert("L").filter(ImageFilter.FIND_EDGES), dtype=np.float64) / 255.0
    edges = np.clip((grey - 0.25) * 4.0, 0.0, 1.0)[..., None]   # soft threshold: outlines, not noise
    return _as_image(poster * (1.0 - 0.85 * edges))


def painterly(image: Image.Image, strength: float) -> Image.Image:
    """A strong stylisation: 3x3 median strokes, a warm ochre palette, saturation and canvas.

    ``strength`` 1 is the full effect, and the demo's ``stylise``: the untranslated photo is
    about 13-14 dB from its painting.
    """
    smoothed = image.convert("RGB").filter(ImageFilter.MedianFilter(3))
    rgb = _as_float(smoothed)
    warm = np.array([[1.00, 0.30, 0.00], [0.15, 0.80, 0.05], [0.00, 0.25, 0.45]])
    mixed = (1 - strength) * rgb + strength * (rgb @ warm.T)
    luma = (mixed @ _LUMA)[..., None]
    vivid = np.clip(luma + (1 + strength) * (mixed - luma), 0.0, 1.0) ** (1 - 0.35 * strength)
    canvas = np.array([0.93, 0.82, 0.62])
    return _as_image((1 - 0.18 * strength) * vivid + 0.18 * strength * canvas)


@dataclass(frozen=True)
class KnownPair:
    name: str
    kind: str                                 # global colour | tone | local texture
    transform: Callable[[Image.Image, float], Image.Image]
    low: float                                # strength range a seed draws from
    high: float
    integer: bool = False                     # strength is a whole number (a choice)
    about: str = ""

    def strength(self, seed: int) -> float:
        return draw_strength(self, seed)

    def bound(self, strength: float) -> Callable[[Image.Image], Image.Image]:
        return lambda image: self.transform(image, strength)


KNOWN_PAIRS: dict[str, KnownPair] = {p.name: p for p in (
    KnownPair("hue", "global colour", hue_rotation, 90.0, 180.0,
              about="hue rotated 90-180 degrees about the grey axis"),
    KnownPair("channels", "global colour", channel_permutation, 0, 4, integer=True,
              about="R, G, B permuted (one of the 5 non-identity permutations)"),
    KnownPair("invert", "tone", inversion, 0.8, 1.0, about="the negative, 80-100%"),
    KnownPair("tone", "tone", tone_curve, 0.4, 0.6, about="gamma 0.4-0.6, then a steep S-curve"),
    KnownPair("poster", "local texture", posterise_edges, 3, 5, integer=True,
              about="3x3 median, 3-5 levels per channel, dark outlines"),
    KnownPair("painterly", "local texture", painterly, 0.7, 1.0,
              about="3x3 median strokes, ochre palette, saturation, canvas; strength 0.7-1"),
)}


def draw_strength(pair: KnownPair, seed: int) -> float:
    """The pair's strength for ``seed``: uniform over [low, high] (whole numbers for a choice)."""
    rng = np.random.default_rng([seed, 7919])
    if pair.integer:
        return float(rng.integers(int(pair.low), int(pair.high) + 1))
    return round(float(rng.uniform(pair.low, pair.high)), 3)


def known_pair(name: str) -> KnownPair:
    if name not in KNOWN_PAIRS:
        raise UserError(f"--pairs {name!r}: choose from {', '.join(KNOWN_PAIRS)} (or 'real')")
    return KNOWN_PAIRS[name]
