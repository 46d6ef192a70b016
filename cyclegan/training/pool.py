"""History of generated images (Shrivastava et al.), as used by CycleGAN's discriminators.

Showing a discriminator a mix of current and older fakes stops the generator and
discriminator from chasing each other's latest move. The pool draws its coin flips from its
own generator, so its behaviour is part of the saved training state and a resumed run makes
the same choices as one that never stopped.
"""
from __future__ import annotations

import torch
from torch import Tensor


class ImagePool:
    def __init__(self, pool_size: int = 50, seed: int = 0):
        self.pool_size = pool_size
        self.images: list[Tensor] = []
        self.generator = torch.Generator().manual_seed(seed)

    def query(self, images: Tensor) -> Tensor:
        """Return a batch the size of ``images``, each element new or swapped for a stored one.

        While the pool fills, each new image is stored and returned. Once full, with
        probability 0.5 a random stored image is returned and the new one takes its place;
        otherwise the new image is returned and the pool is left as it is.
        """
        if self.pool_size == 0:
            return images
        out = []
        for image in images.detach():
            image = image.unsqueeze(0)
            if len(self.images) < self.pool_size:
                self.images.append(image.clone())
                out.append(image)
            elif torch.rand((), generator=self.generator).item() > 0.5:
                index = int(torch.randint(0, self.pool_size, (), generator=self.generator))
                out.append(self.images[index].clone())
                self.images[index] = image.clone()
            else:
                out.append(image)
        return torch.cat(out, 0)

    def state_dict(self) -> dict:
        return {"pool_size": self.pool_size, "images": _stacked(self.images),
                "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict, device: torch.device | str = "cpu") -> None:
        self.pool_size = int(state["pool_size"])
        stored = state["images"]
        if isinstance(stored, list):   # images of several sizes, one (1, C, H, W) tensor each
            self.images = [img.to(device) for img in stored]
        else:
            self.images = [img.unsqueeze(0).to(device) for img in stored] if stored.numel() else []
        self.generator.set_state(state["generator"])


def _stacked(images: list[Tensor]) -> Tensor | list[Tensor]:
    """The stored images as one tensor; as a list of them when their sizes differ, which they do
    with --preprocess none or scale_width on images of several sizes (a batch of one each)."""
    if not images:
        return torch.empty(0)
    if any(image.shape != images[0].shape for image in images):
        return [image.cpu() for image in images]
    return torch.cat(images, 0).cpu()
