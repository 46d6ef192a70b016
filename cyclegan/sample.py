"""Sampling from a trained DCGAN run (no training code imported here).

    G = load_dcgan_generator("checkpoints/abstract_dcgan")
    images = sample(G, 16, seed=3)                 # 16 x C x S x S in [-1, 1]
    image_grid(images).save("grid.png")
    walk = sample_latents(G, interpolate_latents(G.nz, 3, 4, steps=10))
    D = load_dcgan_discriminator("checkpoints/abstract_dcgan")
    best = sample(G, 16, seed=3, discriminator=D, oversample=2)   # the 16 of 32 D rates most real

The latents of seed S are one stream: the first 8 images of ``sample(G, 64, seed=S)`` are
``sample(G, 8, seed=S)`` (with ``oversample``, the candidates are that stream's first ones). Batch norm runs in inference mode, so an image depends only on its
own latent, not on what else is in the batch.
"""
from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor, nn

from .errors import UserError


def _dcgan_weights(checkpoint, net: str):
    """(the run's model config, the weights file of network ``net``) for a ``--model dcgan`` run
    folder (its ``latest_net_<net>.pth``) or one ``<tag>_net_G.pth`` file inside it (that tag's
    ``<tag>_net_<net>.pth``)."""
    from .checkpoint import CONFIG_FILE
    from .config import Config

    path = Path(checkpoint).expanduser()
    if path.is_file():
        run_dir, tag = path.parent, path.name.split("_net_")[0]
    else:
        run_dir, tag = path, "latest"
    if not run_dir.is_dir():
        raise UserError(f"--checkpoint {checkpoint}: no such run folder")
    if not (run_dir / CONFIG_FILE).is_file():
        raise UserError(f"--checkpoint {checkpoint}: not a training run (no {CONFIG_FILE} in {run_dir})")
    m = Config.load_json(run_dir / CONFIG_FILE).model
    if m.model != "dcgan":
        raise UserError(f"--checkpoint {checkpoint}: a {m.model} run; cyclegan-sample needs a "
                        "--model dcgan run (translate CycleGAN runs with cyclegan-translate)")
    weights = path if path.is_file() and net == "G" else run_dir / f"{tag}_net_{net}.pth"
    if not weights.is_file():
        role = "generator" if net == "G" else "discriminator"
        raise UserError(f"--checkpoint {checkpoint}: no {role} weights {weights.name} in {run_dir}; "
                        "has the run saved yet?")
    return m, weights


def load_dcgan_generator(checkpoint, device: torch.device | str = "cpu") -> nn.Module:
    """The generator of a ``--model dcgan`` run folder (its ``latest_net_G.pth``), or of one
    ``<tag>_net_G.pth`` file inside such a folder, built from the run's config.json."""
    from .checkpoint import load_network
    from .nets.dcgan import DCGANGenerator

    m, weights = _dcgan_weights(checkpoint, "G")
    G = DCGANGenerator(m.nz, m.ngf, m.channels, m.image_size)
    load_network(G, weights)
    return G.to(device).eval()


def load_dcgan_discriminator(checkpoint, device: torch.device | str = "cpu") -> nn.Module:
    """The discriminator saved beside that generator (``latest_net_D.pth`` or ``<tag>_net_D.pth``)."""
    from .checkpoint import load_network
    from .nets.dcgan import DCGANDiscriminator

    m, weights = _dcgan_weights(checkpoint, "D")
    D = DCGANDiscriminator(m.ndf, m.channels, m.image_size)
    load_network(D, weights)
    return D.to(device).eval()


def latents(nz: int, n: int, seed: int) -> Tensor:
    """n latent vectors (n x nz x 1 x 1) from seed's stream."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n, nz, 1, 1, generator=generator)


def slerp(a: Tensor, b: Tensor, t: float) -> Tensor:
    """Spherical interpolation: stays where Gaussian latents live (a straight line between two
    of them passes through improbably short vectors near its middle)."""
    a_flat, b_flat = a.flatten().double(), b.flatten().double()
    cos = torch.dot(a_flat, b_flat) / (a_flat.norm() * b_flat.norm())
    omega = torch.arccos(cos.clamp(-1.0, 1.0))
    if omega.abs() < 1e-6:
        mixed = (1 - t) * a_flat + t * b_flat
    else:
        mixed = (torch.sin((1 - t) * omega) * a_flat + torch.sin(t * omega) * b_flat) / torch.sin(omega)
    return mixed.float().reshape(a.shape)


def interpolate_latents(nz: int, seed_from: int, seed_to: int, steps: int) -> Tensor:
    """``steps`` latents walking from seed_from's first latent to seed_to's (both ends included)."""
    if steps < 2:
        raise UserError("-n must be at least 2 for --interpolate (the two ends)")
    a, b = latents(nz, 1, seed_from)[0], latents(nz, 1, seed_to)[0]
    return torch.stack([slerp(a, b, i / (steps - 1)) for i in range(steps)])


@torch.no_grad()
def sample_latents(G: nn.Module, z: Tensor, device: torch.device | str | None = None,
                   batch_size: int = 256) -> Tensor:
    """G's images (on the CPU, in [-1, 1]) for the latents ``z``, in chunks."""
    G.eval()
    device = device or next(G.parameters()).device
    chunks = [G(z[i:i + batch_size].to(device)).cpu() for i in range(0, len(z), batch_size)]
    return torch.cat(chunks)


@torch.no_grad()
def most_real(D: nn.Module, images: Tensor, n: int, batch_size: int = 256) -> Tensor:
    """The indices (ascending) of the n images that D rates most real.

    Discriminator-filtered sampling, the top-k form of discriminator rejection sampling
    (Azadi et al. 2019): D has learnt what real images look like, including what G still gets
    wrong, so dropping the candidates it doubts most removes G's worst images. Keeping the
    survivors in their original order keeps seed streams comparable."""
    D.eval()
    device = next(D.parameters()).device
    scores = torch.cat([D(images[i:i + batch_size].to(device)).float().cpu()
                        for i in range(0, len(images), batch_size)])
    return scores.topk(n).indices.sort().values


def candidates(n: int, oversample: float) -> int:
    """How many latents --oversample draws to keep n images."""
    if not oversample >= 1:  # also refuses nan
        raise UserError(f"--oversample {oversample:g}: must be at least 1 (1 keeps every image)")
    return max(n, math.ceil(n * oversample))


def sample(G: nn.Module, n: int, seed: int, device: torch.device | str | None = None,
           discriminator: nn.Module | None = None, oversample: float = 1.0) -> Tensor:
    """n images from seed's latents. With a discriminator and ``oversample`` > 1, G draws
    ceil(n * oversample) images and the n that the discriminator rates most real are kept."""
    if n < 1:
        raise UserError(f"-n {n}: ask for at least one image")
    images = sample_latents(G, latents(G.nz, candidates(n, oversample), seed), device)
    if len(images) == n:
        return images
    if discriminator is None:
        raise ValueError("oversampling needs the discriminator that chooses among the candidates")
    return images[most_real(discriminator, images, n)]


def to_pil(image: Tensor) -> Image.Image:
    """One C x H x W tensor in [-1, 1] (C = 1 or 3) -> an 8-bit grayscale or RGB image."""
    array = ((image.detach().float().cpu().clamp(-1, 1) + 1.0) * 127.5).round().byte()
    if array.shape[0] == 1:
        return Image.fromarray(array[0].numpy(), "L")
    return Image.fromarray(array.permute(1, 2, 0).numpy(), "RGB")


def image_grid(images: Tensor, nrow: int | None = None, padding: int = 2) -> Image.Image:
    """N x C x H x W in [-1, 1] -> one image, ``nrow`` per row (default: as square as possible),
    separated by ``padding`` black pixels."""
    n, channels, height, width = images.shape
    nrow = nrow or math.ceil(math.sqrt(n))
    rows = math.ceil(n / nrow)
    mode = "L" if channels == 1 else "RGB"
    grid = Image.new(mode, (nrow * (width + padding) + padding, rows * (height + padding) + padding))
    for i in range(n):
        row, col = divmod(i, nrow)
        grid.paste(to_pil(images[i]), (padding + col * (width + padding), padding + row * (height + padding)))
    return grid


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def gif_bytes(frames: list[Image.Image], frame_ms: int = 400, last_frame_ms: int = 1500) -> bytes:
    """An endlessly looping GIF; the last frame stays longer so the final result can be seen."""
    if not frames:
        raise ValueError("a GIF needs at least one frame")
    palette_frames = [frame.convert("RGB") for frame in frames]
    durations = [frame_ms] * (len(frames) - 1) + [last_frame_ms]
    buffer = io.BytesIO()
    palette_frames[0].save(buffer, format="GIF", save_all=True, append_images=palette_frames[1:],
                           duration=durations, loop=0, optimize=False, disposal=1)
    return buffer.getvalue()


def as_uint8(images: Tensor) -> np.ndarray:
    """N x C x H x W in [-1, 1] -> N x H x W x C uint8, the values a saved PNG holds."""
    return ((images.clamp(-1, 1) + 1.0) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()
