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

``write_samples`` draws, generates and writes in batches (``sample_batches``, ``walk_batches``):
any ``n`` of files runs in the same memory, with the very images ``sample`` returns. What must
be held whole (a grid; with ``oversample`` the best ``n`` so far) is estimated first and refused
in one line when it cannot fit.
"""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import torch
from PIL import Image
from torch import Tensor, nn

from ..checkpoint import atomic_write_bytes, load_network
from ..config import ModelConfig
from ..device import available_memory, format_bytes
from ..errors import UserError, writing
from ..data.pixels import gif_bytes as _gif_bytes
from ..data.pixels import png_bytes, to_image
from ..nets.dcgan import DCGANDiscriminator, DCGANGenerator
from ..models import CARDS
from ..runfolder import RunFolder, parse_weights_name

__all__ = ["load_dcgan_generator", "load_dcgan_discriminator", "latents", "slerp", "interpolate_latents",
           "sample_latents", "most_real", "candidates", "sample", "to_pil", "image_grid", "png_bytes", "gif_bytes",
           "planned_files", "write_samples", "SamplesWritten", "latent_batches", "sample_batches", "walk_batches"]

# Latents are drawn this many at a time: a multiple of 16 (torch draws normal values in blocks of
# 16, so the chunks are the one stream ``latents`` draws; tests/test_dcgan.py checks it) and of
# GENERATOR_BATCH (the generator sees the very batches it sees when everything is drawn at once).
LATENT_CHUNK = 4096
GENERATOR_BATCH = 256


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
    card = run.card()
    if card is None or card.translates:
        raise UserError(f"--checkpoint {checkpoint}: a {m.model} run; cyclegan-sample needs a run of a model "
                        f"that draws from noise ({', '.join(c.name for c in CARDS.values() if not c.translates)}); "
                        "translate with cyclegan-translate")
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


def latent_batches(nz: int, n: int, seed: int, chunk: int | None = None) -> Iterator[Tensor]:
    """``latents(nz, n, seed)`` in consecutive pieces of ``chunk`` rows (default LATENT_CHUNK; the
    last piece up to twice that), without holding them all: a piece of fewer than 16 values would
    be drawn differently."""
    chunk = chunk or LATENT_CHUNK
    if chunk % 16:
        raise ValueError("chunk must be a multiple of 16")
    generator = torch.Generator().manual_seed(seed)
    done = 0
    while done < n:
        take = chunk if n - done >= 2 * chunk else n - done
        yield torch.randn(take, nz, 1, 1, generator=generator)
        done += take


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
    return torch.cat(list(_walk_latents(nz, seed_from, seed_to, steps, steps)))


def _walk_latents(nz: int, seed_from: int, seed_to: int, steps: int, chunk: int) -> Iterator[Tensor]:
    if steps < 2:
        raise UserError("-n must be at least 2 for --interpolate (the two ends)")
    a, b = latents(nz, 1, seed_from)[0], latents(nz, 1, seed_to)[0]
    for start in range(0, steps, chunk):
        yield torch.stack([slerp(a, b, i / (steps - 1)) for i in range(start, min(steps, start + chunk))])


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


def sample_batches(G: nn.Module, n: int, seed: int, device: torch.device | str | None = None,
                   discriminator: nn.Module | None = None, oversample: float = 1.0) -> Iterator[Tensor]:
    """``sample``'s images, batch by batch. Without oversampling one batch is held at a time; with
    it, the best n candidates so far (and their scores), all n given at the end."""
    if n < 1:
        raise UserError(f"-n {n}: ask for at least one image")
    drawn = candidates(n, oversample)
    if drawn > n and discriminator is None:
        raise ValueError("oversampling needs the discriminator that chooses among the candidates")
    if drawn == n:
        for z in latent_batches(G.nz, n, seed):
            yield sample_latents(G, z, device, GENERATOR_BATCH)
        return
    best_index, best_score, best = torch.empty(0, dtype=torch.long), torch.empty(0), None
    start = 0
    for z in latent_batches(G.nz, drawn, seed):
        images = sample_latents(G, z, device, GENERATOR_BATCH)
        scores = _scores(discriminator, images)
        index = torch.cat([best_index, torch.arange(start, start + len(images))])
        score = torch.cat([best_score, scores])
        pool = images if best is None else torch.cat([best, images])
        keep = score.topk(min(n, len(score))).indices
        best_index, best_score, best = index[keep], score[keep], pool[keep]
        start += len(images)
    yield best[best_index.argsort()]      # in the order they were drawn


@torch.no_grad()
def _scores(D: nn.Module, images: Tensor) -> Tensor:
    D.eval()
    device = next(D.parameters()).device
    return torch.cat([D(images[i:i + GENERATOR_BATCH].to(device)).float().cpu()
                      for i in range(0, len(images), GENERATOR_BATCH)])


def walk_batches(G: nn.Module, seed_from: int, seed_to: int, steps: int,
                 device: torch.device | str | None = None) -> Iterator[Tensor]:
    """The frames of ``sample_latents(G, interpolate_latents(...))``, batch by batch."""
    for z in _walk_latents(G.nz, seed_from, seed_to, steps, LATENT_CHUNK):
        yield sample_latents(G, z, device, GENERATOR_BATCH)


def to_pil(image: Tensor) -> Image.Image:
    """One C x H x W tensor in [-1, 1] (C = 1 or 3) -> an 8-bit grayscale or RGB image."""
    return to_image(image)


def image_grid(images: Tensor, nrow: int | None = None, padding: int = 2) -> Image.Image:
    """N x C x H x W in [-1, 1] -> one image, ``nrow`` per row (default: as square as possible),
    separated by ``padding`` black pixels."""
    return _grid_of_batches([images], len(images), nrow, padding)


def grid_size(n: int, side: int, nrow: int | None = None, padding: int = 2) -> tuple[int, int]:
    """(width, height) of the grid of n images of side x side pixels."""
    nrow = nrow or math.ceil(math.sqrt(n))
    return nrow * (side + padding) + padding, math.ceil(n / nrow) * (side + padding) + padding


def _grid_of_batches(batches, n: int, nrow: int | None = None, padding: int = 2) -> Image.Image:
    """``image_grid`` of n images arriving in batches: only the grid and one batch are held."""
    nrow = nrow or math.ceil(math.sqrt(n))
    grid, i = None, 0
    for images in batches:
        _, channels, height, width = images.shape
        if grid is None:
            grid = Image.new("L" if channels == 1 else "RGB", grid_size(n, width, nrow, padding))
        for image in images:
            row, col = divmod(i, nrow)
            grid.paste(to_pil(image), (padding + col * (width + padding), padding + row * (height + padding)))
            i += 1
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
    return list(_file_names(n, grid, interpolate))


def _file_names(n: int, grid: bool, interpolate: bool) -> Iterator[str]:
    if grid:
        yield "interpolation.png" if interpolate else "grid.png"
        return
    stem, width = _numbering(n, interpolate)
    for i in range(n):
        yield f"{stem}_{i:0{width}d}.png"


def _numbering(n: int, interpolate: bool) -> tuple[str, int]:
    return ("interp" if interpolate else "sample"), max(3, len(str(n - 1)))


def existing_files(output: Path, n: int, grid: bool, interpolate: bool) -> list[str]:
    """Which of ``planned_files`` are in ``output`` already, found by one look at the folder
    (not n look-ups: n may be in the millions)."""
    if not output.is_dir():
        return []
    if grid:
        return [name for name in _file_names(n, grid, interpolate) if (output / name).exists()]
    stem, width = _numbering(n, interpolate)
    ours = re.compile(rf"{stem}_(\d{{{width}}})\.png")
    found = [(int(match[1]), entry.name) for entry in os.scandir(output)
             if (match := ours.fullmatch(entry.name)) and int(match[1]) < n]
    return [name for _, name in sorted(found)]


def sampling_memory(n: int, drawn: int, channels: int, side: int, grid: bool, nrow: int | None = None) -> int:
    """Bytes ``write_samples`` holds beyond one batch: the n best with oversampling (float
    images and scores, twice while a batch joins them), the grid (and its PNG) with ``grid``."""
    held = 2 * n * (channels * side * side * 4 + 16) if drawn > n else 0
    if grid:
        width, height = grid_size(n, side, nrow)
        held += 2 * width * height * channels
    return held


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
                  device: torch.device | str = "cpu", memory_limit: int | None = None) -> SamplesWritten:
    """Images of a ``--model dcgan`` run as PNG files in ``output``: ``n`` samples (the ``n`` of
    ``n * oversample`` the discriminator rates most real), or with ``interpolate`` a walk of ``n``
    frames from ``seed``'s first latent to ``end_seed``'s; one grid image with ``grid``. Existing
    files are kept unless ``overwrite``. ``seed`` None draws one (it is in the result).
    ``memory_limit``: bytes it may hold (default: the memory available now); beyond, it refuses."""
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
    existing = existing_files(output, n, grid, interpolate)
    if existing and not overwrite:
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        raise UserError(f"--output {output}: {existing[0]} already exists{more}; "
                        "choose another folder or add --overwrite")

    G = load_dcgan_generator(checkpoint, device)
    D = load_dcgan_discriminator(checkpoint, device) if drawn > n else None
    _check_memory(n, drawn, G.channels, G.image_size, grid, nrow, memory_limit)
    seed = seed if seed is not None else int(torch.randint(0, 2**31 - 1, (1,)).item())
    if interpolate:
        end_seed = end_seed if end_seed is not None else seed + 1
        batches = walk_batches(G, seed, end_seed, n, device)
        what = f"a {n}-step walk from seed {seed} to seed {end_seed}"
    else:
        batches = sample_batches(G, n, seed, device, discriminator=D, oversample=oversample)
        what = f"{n} samples with seed {seed}"
        if D is not None:
            what += f" (the {n} of {drawn} the discriminator rates most real)"

    with writing(output):   # a file in the way, or a folder that refuses files: one line
        output.mkdir(parents=True, exist_ok=True)
    names = _file_names(n, grid, interpolate)
    if grid:
        where = output / next(names)
        atomic_write_bytes(where, png_bytes(_grid_of_batches(batches, n, nrow)))
    else:
        where = output
        for name, image in zip(names, (image for images in batches for image in images)):
            atomic_write_bytes(output / name, png_bytes(to_image(image)))
    return SamplesWritten(where, seed, end_seed, drawn, what)


def _check_memory(n: int, drawn: int, channels: int, side: int, grid: bool, nrow: int | None,
                  limit: int | None) -> None:
    """Refuse, before any sampling, what must be held whole and cannot fit."""
    needed = sampling_memory(n, drawn, channels, side, grid, nrow)
    limit = limit if limit is not None else available_memory()
    if needed <= limit:
        return
    what = ("a grid of that many images" if grid else f"the best {n} of {drawn} candidates (--oversample)")
    advice = "drop --grid (files are written batch by batch), or ask for fewer -n" if grid else \
        "ask for fewer -n and run again with another --seed, or drop --oversample"
    raise UserError(f"-n {n}: {what} needs about {format_bytes(needed)} of memory and {format_bytes(limit)} is "
                    f"available; {advice}")
