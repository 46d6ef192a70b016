"""Translating images with a trained generator (no training code imported here)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from .data.transforms import to_image, to_tensor


@torch.no_grad()
def translate_image(generator: nn.Module, image: Image.Image, device: torch.device | str = "cpu") -> Image.Image:
    """Translate one RGB image at its own size.

    The generator needs sides that are multiples of 4, so the input is reflection-padded up to
    the next multiple and the output cropped back: no resampling, no lost border.
    """
    generator.eval()
    x = to_tensor(image.convert("RGB")).unsqueeze(0).to(device)
    height, width = x.shape[-2:]
    pad_h, pad_w = (-height) % 4, (-width) % 4
    if pad_h or pad_w:
        x = F.pad(x, (0, pad_w, 0, pad_h), mode="reflect" if min(height, width) > max(pad_h, pad_w) else "replicate")
    y = generator(x)[..., :height, :width]
    return to_image(y[0])


def load_generator(run_dir, direction: str = "AtoB", epoch: str = "latest",
                   device: torch.device | str = "cpu") -> nn.Module:
    """The generator of a run folder, built from the run's saved config (G_A for AtoB)."""
    from pathlib import Path

    from .checkpoint import CONFIG_FILE, load_network
    from .config import Config
    from .errors import UserError
    from .nets import create_generator

    run_dir = Path(run_dir)
    if not (run_dir / CONFIG_FILE).is_file():
        raise UserError(f"{run_dir} is not a training run (no {CONFIG_FILE})")
    m = Config.load_json(run_dir / CONFIG_FILE).model
    in_nc, out_nc = (m.input_nc, m.output_nc) if direction == "AtoB" else (m.output_nc, m.input_nc)
    net = create_generator(m.netG, input_nc=in_nc, output_nc=out_nc, ngf=m.ngf, norm=m.norm,
                           use_dropout=m.use_dropout)
    side = "G_A" if direction == "AtoB" else "G_B"
    load_network(net, run_dir / f"{epoch}_net_{side}.pth")
    return net.to(device).eval()
