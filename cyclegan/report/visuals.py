"""The model's current visuals as plain images: what the dashboard and the report both show."""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from ..data.pixels import to_image


def visuals_to_images(visuals: dict[str, torch.Tensor], per_visual: int = 8) -> dict[str, Image.Image]:
    """A CycleGAN's visuals (``real_A``, ``fake_B``, ...): the first image of each batch. Other
    models' visuals (a DCGAN's ``real`` and ``fake`` batches): up to ``per_visual`` images of
    each, named ``<name>_<i>``."""
    batches = {name: batch if batch.dim() == 4 else batch.unsqueeze(0) for name, batch in visuals.items()}
    if any(name.endswith(("_A", "_B")) for name in batches):
        return {name: _to_rgb_image(batch[0]) for name, batch in batches.items()}
    return {f"{name}_{i}": _to_rgb_image(batch[i]) for name, batch in batches.items()
            for i in range(min(len(batch), per_visual))}


def grid_columns(names: list[str]) -> int:
    """Columns of the visuals grid: the reference's two rows (A side, B side) when names pair up."""
    count = len(names)
    if count >= 4 and count % 2 == 0 and any(n.endswith("_A") for n in names) and any(n.endswith("_B") for n in names):
        return count // 2
    return min(count, 8) or 1


def images_to_array(images: list[Image.Image]) -> np.ndarray:
    """N RGB images of one size -> float array N x 3 x H x W in [0, 1] (visdom's image layout)."""
    size = images[0].size
    arrays = [np.asarray(im.convert("RGB").resize(size) if im.size != size else im.convert("RGB"),
                         dtype=np.float32) / 255.0 for im in images]
    return np.stack(arrays).transpose(0, 3, 1, 2)


def _to_rgb_image(tensor: torch.Tensor) -> Image.Image:
    return to_image(tensor[:3], rgb=True)   # grayscale DCGAN samples become gray RGB
