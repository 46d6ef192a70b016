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

import math
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image
from torch import Tensor, nn

from .checkpoint import atomic_write_bytes, load_network
from .config import ModelConfig
from .errors import UserError, writing
from .images import gif_bytes as _gif_bytes
from .images import png_bytes, to_image
from .nets.dcgan import DCGANDiscriminator, DCGANGenerator
from .runfolder import RunFolder, parse_weights_name

__all__ = ["load_dcgan_generator", "load_dcgan_discriminator", "latents", "slerp", "interpolate_latents",
           "sample_latents", "most_real", "candidates", "sample", "to_pil", "image_grid", "png_bytes", "gif_bytes",
           "planned_files", "write_samples", "SamplesWritten"]


def _dcgan_run(checkpoint, net: str) -> tuple[ModelConfig, RunFolder, str]:
    """(the run's model config, its folder, the weights tag) for a ``--model dcgan`` run folder
    (tag ``latest``) or one ``<tag>_net_G.pth`` file inside it (that tag); checks ``net``'s file."""
    path = Path(checkpoint).expanduser()
    if path.is_file():
        parsed = parse_weights_name(path.name)
        run, tag = RunFolder(path.parent), parsed[0] if parsed else path.name.split("_net_")[0]
    else:
        run, tag = RunFolder(path), "latest"
    if not run.path.is_dir():
        raise UserError(f"--checkpoint {checkpoint}: no such run folder")
    if not run.has_config():
        raise UserError(f"--checkpoint {checkpoint}: not a training run (no {run.config_file.name} in {run.path})")
    m = run.read_config().model
    if m.model != "dcgan":
        raise UserError(f"--checkpoint {checkpoint}: a {m.model} run; cyclegan-sample needs a "
                        "--model dcgan run (translate CycleGAN runs with cyclegan-translate)")
    weights = path if path.is_file() and net == "G" else run.weights(net, tag)
    if not weights.is_file():
        role = "generator" if net == "G" else "discriminator"
        raise UserError(f"--checkpoint {checkpoint}: no {role} weights {weights.name} in {run.path}; "
                        "has the run saved yet?")
    return m, run, tag


def load_dcgan_generator(checkpoint, device: torch.device | str = "cpu") -> nn.Module:
    """The generator of a ``--model dcgan`` run folder (its ``latest_net_G.pth``), or of one
    ``<tag>_net_G.pth`` file inside such a folder, built from the run's config.json."""
    m, run, tag = _dcgan_run(checkpoint, "G")
    path = Path(checkpoint).expanduser()
    G = DCGANGenerator(m.nz, m.ngf, m.channels, m.image_size)
    if path.is_file():   # the very file named, whatever its name
        load_network(G, path)
    else:
        run.load_network(G, "G", tag)
    return G.to(device).eval()


def load_dcgan_discriminator(checkpoint, device: torch.device | str = "cpu") -> nn.Module:
    """The discriminator saved beside that generator (``latest_net_D.pth`` or ``<tag>_net_D.pth``)."""
    m, run, tag = _dcgan_run(checkpoint, "D")
    D = DCGANDiscriminator(m.ndf, m.channels, m.image_size)
    run.load_network(D, "D", tag)
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
    return to_image(image)


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


def gif_bytes(frames: list[Image.Image], frame_ms: int = 400, last_frame_ms: int = 1500) -> bytes:
    """An endlessly looping GIF; the last frame stays longer so the final result can be seen."""
    if not frames:
        raise ValueError("a GIF needs at least one frame")
    durations = [frame_ms] * (len(frames) - 1) + [last_frame_ms]
    return _gif_bytes(frames, durations, optimize=False, disposal=1)


# --------------------------------------------------------------------------- files

def planned_files(n: int, grid: bool, interpolate: bool) -> list[str]:
    """The file names ``write_samples`` writes: one grid, or one numbered file per image."""
    if grid:
        return ["interpolation.png" if interpolate else "grid.png"]
    stem = "interp" if interpolate else "sample"
    width = max(3, len(str(n - 1)))
    return [f"{stem}_{i:0{width}d}.png" for i in range(n)]


@dataclass(frozen=True)
class SamplesWritten:
    where: Path          # the grid file, or the folder of numbered files
    seed: int
    end_seed: int | None
    drawn: int           # candidates drawn (more than n with oversample)
    what: str            # e.g. "64 samples with seed 3"


def write_samples(checkpoint, output: str | Path, n: int = 64, *, seed: int | None = None, grid: bool = False,
                  nrow: int | None = None, interpolate: bool = False, end_seed: int | None = None,
                  oversample: float = 1.0, overwrite: bool = False,
                  device: torch.device | str = "cpu") -> SamplesWritten:
    """Images of a ``--model dcgan`` run as PNG files in ``output``: ``n`` samples (the ``n`` of
    ``n * oversample`` the discriminator rates most real), or with ``interpolate`` a walk of ``n``
    frames from ``seed``'s first latent to ``end_seed``'s; one grid image with ``grid``. Existing
    files are kept unless ``overwrite``. ``seed`` None draws one (it is in the result)."""
    if n < 1:
        raise UserError(f"-n {n}: ask for at least one image")
    if interpolate and n < 2:
        raise UserError("-n must be at least 2 with --interpolate (the walk's two ends)")
    if nrow is not None and nrow < 1:
        raise UserError(f"--nrow {nrow} must be at least 1")
    if oversample != 1.0 and interpolate:
        raise UserError("--oversample does not apply to --interpolate (a walk keeps every frame)")
    if end_seed is not None and not interpolate:
        raise UserError("--end-seed only applies with --interpolate")
    drawn = candidates(n, oversample)  # checks --oversample
    output = Path(output).expanduser()
    if output.exists() and not output.is_dir():
        raise UserError(f"--output {output} is a file; give a folder")
    names = planned_files(n, grid, interpolate)
    existing = [name for name in names if (output / name).exists()]
    if existing and not overwrite:
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        raise UserError(f"--output {output}: {existing[0]} already exists{more}; "
                        "choose another folder or add --overwrite")

    G = load_dcgan_generator(checkpoint, device)
    D = load_dcgan_discriminator(checkpoint, device) if drawn > n else None
    seed = seed if seed is not None else int(torch.randint(0, 2**31 - 1, (1,)).item())
    if interpolate:
        end_seed = end_seed if end_seed is not None else seed + 1
        images = sample_latents(G, interpolate_latents(G.nz, seed, end_seed, n), device)
        what = f"a {n}-step walk from seed {seed} to seed {end_seed}"
    else:
        images = sample(G, n, seed, device, discriminator=D, oversample=oversample)
        what = f"{n} samples with seed {seed}"
        if D is not None:
            what += f" (the {n} of {drawn} the discriminator rates most real)"

    with writing(output):   # a file in the way, or a folder that refuses files: one line
        output.mkdir(parents=True, exist_ok=True)
    if grid:
        atomic_write_bytes(output / names[0], png_bytes(image_grid(images, nrow=nrow)))
    else:
        for name, image in zip(names, images):
            atomic_write_bytes(output / name, png_bytes(to_image(image)))
    return SamplesWritten(output / names[0] if grid else output, seed, end_seed, drawn, what)
