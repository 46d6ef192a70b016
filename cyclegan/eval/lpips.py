"""LPIPS (Zhang et al., 2018), only when its weights are already on this machine.

torch-fidelity's LPIPS (VGG16 with the learned linear heads) needs two files in torch.hub's
cache: the LPIPS heads and torchvision's VGG16. Both are read from the cache, never downloaded
here; without them the paired metrics simply leave LPIPS out and say why.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch
from PIL import Image

LPIPS_FILES = ("weights-vgg16-lpips.pth", "vgg16-397923af.pth")


def lpips_weight_paths() -> list[Path]:
    return [Path(torch.hub.get_dir()) / "checkpoints" / name for name in LPIPS_FILES]


class LPIPS:
    """``LPIPS(device)(image, target) -> distance`` (0 = identical); ``model`` is None when unavailable."""

    min_side = 16    # VGG16 pools four times before its last compared layer: a smaller side ends at 0 pixels

    def __init__(self, device: torch.device | str = "cpu"):
        self.device = torch.device(device)
        self.model = None
        missing = [p for p in lpips_weight_paths() if not p.is_file()]
        if importlib.util.find_spec("torch_fidelity") is None:
            self.note = "LPIPS not computed: needs the torch-fidelity package (pip install torch-fidelity)"
        elif missing:
            self.note = (f"LPIPS not computed: its weights are not on this machine (missing {missing[0]}); "
                         "copy weights-vgg16-lpips.pth and vgg16-397923af.pth into " + str(missing[0].parent))
        else:
            from torch_fidelity.sample_similarity_lpips import SampleSimilarityLPIPS
            self.model = SampleSimilarityLPIPS("lpips-vgg16", sample_similarity_resize=None).to(self.device).eval()
            self.note = "LPIPS: VGG16 (torch-fidelity weights)"

    @torch.no_grad()
    def __call__(self, image: Image.Image, target: Image.Image) -> float:
        def tensor(im):   # 1 x 3 x H x W uint8, the input torch-fidelity's LPIPS expects
            return torch.from_numpy(np.asarray(im.convert("RGB")).copy()).permute(2, 0, 1)[None].to(self.device)
        return float(self.model(tensor(image), tensor(target)).item())
