"""Translating images with a trained generator (no training code imported here).

    from cyclegan.translate import Translator
    translate = Translator.from_checkpoint("checkpoints/forest2abstract", direction="AtoB")
    painting = translate(Image.open("photo.jpg"))          # PIL in, PIL out, any size

Full resolution: an image is reflection-padded to a multiple of 4, translated whole and cropped
back. Images with a side above ``tile`` pixels are translated in overlapping tiles whose
outputs are blended with a smooth (sin^2) window, so memory is bounded by the tile size.

Instance norm normalises with statistics of the whole image, so tiles normalised on their own
would each get different colours (and seams). For tiled images every InstanceNorm2d is therefore
switched to fixed, whole-image statistics, summed over the tiles' non-overlapping cores:

* ``tile_stats="exact"`` (default): one pass over the tiles per norm layer, each stopping at
  that layer, with the layers before it already fixed. The statistics are the untiled ones up
  to the tiles' border context; the passes cost about 10x one translation pass for a ResNet-9
  (much less for the early layers, which dominate at small ngf).
* ``tile_stats="fast"``: statistics of a downscaled copy of the whole image, refined by one
  full-resolution pass (2 passes in all). Seamless too, but the colours drift from the untiled
  result where downscaling changes the statistics.
"""
from __future__ import annotations

import math
import re
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps
from torch import Tensor, nn

from .data.transforms import to_image, to_tensor
from .errors import UserError

DIRECTIONS = ("AtoB", "BtoA")
MULTIPLE = 4                        # the generator downsamples twice
# Peak activation memory of a ResNet generator measured here: about 16 bytes per pixel per ngf
# (fp32, inference mode), plus a fixed part. The default tile keeps it near 1.25 GiB, which
# with the whole-image buffers keeps a 12-megapixel translation under about 2 GB.
ACTIVATION_BUDGET = 1.25 * 2 ** 30


# --------------------------------------------------------------------------- the old entry points

@torch.no_grad()
def translate_image(generator: nn.Module, image: Image.Image, device: torch.device | str = "cpu") -> Image.Image:
    """Translate one RGB image at its own size.

    The generator needs sides that are multiples of 4, so the input is reflection-padded up to
    the next multiple and the output cropped back: no resampling, no lost border.
    """
    generator.eval()
    x = to_tensor(image.convert("RGB")).unsqueeze(0).to(device)
    height, width = x.shape[-2:]
    y = generator(pad_to_multiple(x))[..., :height, :width]
    return to_image(y[0])


def load_generator(run_dir, direction: str = "AtoB", epoch: str = "latest",
                   device: torch.device | str = "cpu") -> nn.Module:
    """The generator of a run folder, built from the run's saved config (G_A for AtoB)."""
    from .checkpoint import CONFIG_FILE

    run_dir = Path(run_dir)
    if not (run_dir / CONFIG_FILE).is_file():
        raise UserError(f"{run_dir} is not a training run (no {CONFIG_FILE})")
    source = resolve_generator(run_dir, direction, epoch)
    return build_generator(source).to(device).eval()


def pad_to_multiple(x: Tensor, multiple: int = MULTIPLE) -> Tensor:
    """Reflection-pad the bottom/right edges up to a multiple (replicate where reflection cannot reach)."""
    height, width = x.shape[-2:]
    pad_h, pad_w = (-height) % multiple, (-width) % multiple
    if not (pad_h or pad_w):
        return x
    mode = "reflect" if min(height, width) > max(pad_h, pad_w) else "replicate"
    return F.pad(x, (0, pad_w, 0, pad_h), mode=mode)


# --------------------------------------------------------------------------- which weights, which network

@dataclass(frozen=True)
class GeneratorSpec:
    """Everything needed to rebuild a generator before loading its weights."""
    netG: str = "resnet_9blocks"
    ngf: int = 64
    norm: str = "instance"
    use_dropout: bool = False
    input_nc: int = 3
    output_nc: int = 3

    def build(self) -> nn.Module:
        from .nets import create_generator
        return create_generator(self.netG, input_nc=self.input_nc, output_nc=self.output_nc, ngf=self.ngf,
                                norm=self.norm, use_dropout=self.use_dropout)


@dataclass(frozen=True)
class GeneratorSource:
    path: Path              # the generator's .pth file
    run_name: str           # names the default output folder
    direction: str          # AtoB | BtoA
    spec: GeneratorSpec
    spec_origin: str        # "config" (the run's config.json) or "keys" (inferred from the state_dict)


_RUN_FILE = re.compile(r"^(?P<epoch>.+)_net_G_(?P<side>[AB])\.pth$")
_BARE_FILE = re.compile(r"^(?P<epoch>.+)_net_G\.pth$")


def is_run_dir(path: Path) -> bool:
    from .checkpoint import CONFIG_FILE
    return (path / CONFIG_FILE).is_file() and any(path.glob("*_net_G_A.pth"))


def find_latest_run(checkpoints_dir: Path | str = "checkpoints") -> Path:
    """The run folder under ``checkpoints_dir`` whose generator or config was written last."""
    root = Path(checkpoints_dir)
    runs = [p for p in root.iterdir() if p.is_dir() and is_run_dir(p)] if root.is_dir() else []
    if not runs:
        raise UserError(f"no training run found under {root}/ (a run folder has config.json and "
                        "latest_net_G_A.pth); pass --checkpoint RUN_FOLDER or a generator .pth file")

    def written(run: Path) -> float:
        return max(p.stat().st_mtime for p in [run / "config.json", *run.glob("*_net_G_[AB].pth")])
    return max(runs, key=written)


def resolve_generator(checkpoint: Path | str | None = None, direction: str | None = None, epoch: str = "latest",
                      netG: str | None = None, norm: str | None = None, ngf: int | None = None,
                      checkpoints_dir: Path | str = "checkpoints") -> GeneratorSource:
    """Find the generator file and its architecture.

    ``checkpoint`` is a run folder, a generator file (ours or the reference's bare
    ``latest_net_G.pth``), a folder holding ``<epoch>_net_G.pth``, or None for the most recently
    written run. Architecture comes from the run's config.json, else from the weights' key
    names; ``netG``/``norm``/``ngf`` override either.
    """
    from .checkpoint import CONFIG_FILE
    from .config import Config

    if direction is not None and direction not in DIRECTIONS:
        raise UserError(f"--direction {direction!r} is not known; use AtoB or BtoA")
    epoch = str(epoch)
    if epoch not in ("latest", "best") and not epoch.isdigit():
        raise UserError(f"--epoch {epoch!r}: use latest, best (kept by --eval_freq) or an epoch number")
    path = Path(checkpoint).expanduser() if checkpoint is not None else find_latest_run(checkpoints_dir)
    if not path.exists():
        raise UserError(f"--checkpoint {path} does not exist; give a run folder (checkpoints/NAME) "
                        "or a generator .pth file")

    config_dir, file_side = None, None
    if path.is_dir():
        if (path / CONFIG_FILE).is_file():
            config_dir = path
        side = "A" if (direction or "AtoB") == "AtoB" else "B"
        candidates = [path / f"{epoch}_net_G_{side}.pth", path / f"{epoch}_net_G.pth"]
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            raise UserError(f"--checkpoint {path}: no {candidates[0].name} (or {candidates[1].name}) in it; "
                            f"{_available_epochs(path)}")
        file_path, run_name = found, path.resolve().name
        if _RUN_FILE.match(found.name):
            file_side = side
    else:
        file_path = path
        match = _RUN_FILE.match(path.name)
        if match:
            file_side = match["side"]
            if (path.parent / CONFIG_FILE).is_file():
                config_dir = path.parent
        in_run = match or _BARE_FILE.match(path.name)
        run_name = path.resolve().parent.name if in_run else path.stem

    if file_side is not None:
        file_direction = "AtoB" if file_side == "A" else "BtoA"
        if direction is not None and direction != file_direction:
            raise UserError(f"--checkpoint {file_path.name} is generator G_{file_side} ({file_direction}), "
                            f"not {direction}; give the G_{'B' if file_side == 'A' else 'A'} file or drop --direction")
        direction = file_direction
    direction = direction or "AtoB"

    if config_dir is not None:
        cfg = Config.load_json(config_dir / CONFIG_FILE)
        if cfg.model.model != "cyclegan":
            raise UserError(f"{config_dir} is a --model {cfg.model.model} run, not a translator; "
                            "use cyclegan-sample for DCGAN runs")
        m = cfg.model
        in_nc, out_nc = (m.input_nc, m.output_nc) if direction == "AtoB" else (m.output_nc, m.input_nc)
        spec = GeneratorSpec(m.netG, m.ngf, m.norm, m.use_dropout, in_nc, out_nc)
        origin = "config"
    else:
        spec, origin = infer_generator_spec(_load_weights(file_path), file_path), "keys"
    overrides = {k: v for k, v in (("netG", netG), ("norm", norm), ("ngf", ngf)) if v is not None}
    return GeneratorSource(file_path, run_name, direction, replace(spec, **overrides), origin)


def _available_epochs(run: Path) -> str:
    epochs = sorted({m["epoch"] for p in run.glob("*_net_G*.pth")
                     if (m := _RUN_FILE.match(p.name) or _BARE_FILE.match(p.name))},
                    key=lambda e: (e != "latest", int(e) if e.isdigit() else 0))
    return f"available --epoch values: {', '.join(epochs)}" if epochs else "it holds no generator files"


def infer_generator_spec(state, path: Path | str = "the weights") -> GeneratorSpec:
    """Read a ResNet generator's architecture off its state_dict keys (reference layout).

    ``model.1.weight`` is the first 7x7 conv (ngf x input_nc); residual blocks are the
    ``model.<i>.conv_block`` entries; a norm layer with a ``weight`` at ``model.2`` means batch
    norm (instance norm has none; 'none' looks the same and is not guessed); a second block conv
    at index 6 instead of 5 means a Dropout sits in between.
    """
    from .checkpoint import _strip_prefixes
    from .nets import GENERATORS

    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise UserError(f"{path} is not a generator's weights (expected a state_dict of tensors)")
    keys = {_strip_prefixes(k): v for k, v in state.items()}
    first = keys.get("model.1.weight")
    if first is None or first.dim() != 4:
        raise UserError(f"cannot tell the architecture of {path} from its keys (no model.1.weight); "
                        "it is not a ResNet generator in the reference layout")
    blocks = {int(k.split(".")[1]) for k in keys if ".conv_block." in k}
    netG = f"resnet_{len(blocks)}blocks"
    if netG not in GENERATORS:
        raise UserError(f"{path} has {len(blocks)} residual blocks; known generators: {', '.join(GENERATORS)}")
    convs = [(int(k.split(".")[1]), v) for k, v in keys.items()
             if k.count(".") == 2 and k.endswith(".weight") and v.dim() == 4]
    output_nc = max(convs)[1].shape[0]
    return GeneratorSpec(netG=netG, ngf=first.shape[0], norm="batch" if "model.2.weight" in keys else "instance",
                         use_dropout=any(".conv_block.6." in k for k in keys), input_nc=first.shape[1],
                         output_nc=output_nc)


def _load_weights(path: Path):
    """torch.load (weights only) with its error kept to one line: torch's messages span several."""
    from .checkpoint import load_torch_file

    try:
        return load_torch_file(path)
    except UserError as exc:
        message = " ".join(str(exc).split())
        raise UserError(message if len(message) < 300 else message[:200] + " ...; it may be truncated "
                        "or not a PyTorch file") from None


def build_generator(source: GeneratorSource) -> nn.Module:
    """The network of ``source`` with its weights loaded strictly (reference files included)."""
    from .checkpoint import clean_reference_state_dict

    net = source.spec.build()
    state = _load_weights(source.path)
    if not isinstance(state, dict):
        raise UserError(f"{source.path} is not a generator's weights (expected a state_dict)")
    try:
        net.load_state_dict(clean_reference_state_dict(state, net), strict=True)
    except RuntimeError as exc:
        lines = str(exc).strip().splitlines()
        detail = lines[1].strip() if len(lines) > 1 else lines[0]
        hint = "--netG/--norm/--ngf" if source.spec_origin == "keys" else "that the file belongs to this run"
        raise UserError(f"weights in {source.path} do not fit {source.spec.netG} ngf {source.spec.ngf} "
                        f"norm {source.spec.norm} ({detail[:160]}); check {hint}") from None
    return net.eval()


# --------------------------------------------------------------------------- tiles

def default_tile(ngf: int = 64) -> int:
    """Largest tile side (a multiple of 64) whose activations fit ACTIVATION_BUDGET."""
    bytes_per_pixel = 18 * ngf + 64
    side = math.isqrt(int(ACTIVATION_BUDGET // bytes_per_pixel))
    return max(64, side // 64 * 64)


@dataclass(frozen=True)
class Span:
    start: int              # the tile covers [start, start + size)
    size: int
    core_start: int         # the tiles' cores partition the axis (statistics count each pixel once)
    core_end: int
    ramp_before: int        # overlap with the previous tile (blended over these pixels)
    ramp_after: int


def plan_axis(length: int, tile: int, overlap: int) -> list[Span]:
    """Tiles of ``tile`` pixels along one axis, starts on multiples of 4, overlapping by >= ~overlap."""
    if length <= tile:
        return [Span(0, length, 0, length, 0, 0)]
    count = math.ceil((length - overlap) / (tile - overlap))
    starts = [(i * (length - tile) // (count - 1)) // MULTIPLE * MULTIPLE for i in range(count)]
    starts[-1] = length - tile
    # The boundary between two cores sits in the middle of their overlap.
    bounds = [0] + [(starts[i + 1] + starts[i] + tile) // 2 // MULTIPLE * MULTIPLE for i in range(count - 1)] + [length]
    return [Span(s, tile, bounds[i], bounds[i + 1],
                 starts[i - 1] + tile - s if i else 0,
                 s + tile - starts[i + 1] if i + 1 < count else 0)
            for i, s in enumerate(starts)]


def blend_window(span: Span) -> Tensor:
    """1 inside, sin^2 ramps across overlaps: the ramps of two neighbours sum to exactly 1."""
    w = torch.ones(span.size)
    if span.ramp_before:
        i = torch.arange(span.ramp_before, dtype=torch.float32)
        w[:span.ramp_before] = torch.sin(math.pi / 2 * (i + 0.5) / span.ramp_before) ** 2
    if span.ramp_after:
        i = torch.arange(span.ramp_after, dtype=torch.float32)
        w[span.size - span.ramp_after:] = torch.cos(math.pi / 2 * (i + 0.5) / span.ramp_after) ** 2
    return w


class _StopForward(Exception):
    """Raised by the norm being measured: layers after it are not needed for its statistics."""


class _FixedStatsNorm(nn.Module):
    """Stands in for an InstanceNorm2d while tiling: normalises with statistics set from outside.

    mode "measure": normalise with its own statistics and keep them (a whole, downscaled image),
    noting the order in which the norms run;
    mode "accumulate": normalise with the fixed ones and sum up the input over the current
    tile's core (given in tile pixels, scaled to this layer's resolution); with ``stop`` set,
    end the forward pass right after that;
    mode "apply": normalise with the fixed ones.
    """

    def __init__(self, original: nn.InstanceNorm2d, call_order: list):
        super().__init__()
        self.original = original
        self.call_order = call_order
        self.mode = "measure"
        self.stop = False
        self.mean: Tensor | None = None
        self.var: Tensor | None = None
        self.core = (0, 1, 0, 1, 1, 1)     # r0, r1, c0, c1 in tile pixels, tile height, tile width
        self._sum = self._sumsq = None
        self._count = 0

    def forward(self, x: Tensor) -> Tensor:
        xf = x.float()
        if self.mode == "measure":
            self.var, self.mean = torch.var_mean(xf, dim=(2, 3), unbiased=False, keepdim=True)
            self.call_order.append(self)
        elif self.mode == "accumulate":
            r0, r1, c0, c1, th, tw = self.core
            h, w = xf.shape[-2:]
            core = xf[..., r0 * h // th:r1 * h // th, c0 * w // tw:c1 * w // tw].double()
            sums, sumsq = core.sum(dim=(2, 3), keepdim=True), core.square().sum(dim=(2, 3), keepdim=True)
            self._sum = sums if self._sum is None else self._sum + sums
            self._sumsq = sumsq if self._sumsq is None else self._sumsq + sumsq
            self._count += core.shape[-1] * core.shape[-2]
            if self.stop:
                raise _StopForward
        y = (xf - self.mean) * torch.rsqrt(self.var + self.original.eps)
        if self.original.affine:
            y = y * self.original.weight.view(1, -1, 1, 1) + self.original.bias.view(1, -1, 1, 1)
        return y.to(x.dtype)

    def take_accumulated(self) -> None:
        """Make the statistics summed over all cores the fixed ones."""
        mean = self._sum / self._count
        self.mean = mean.float()
        self.var = (self._sumsq / self._count - mean.square()).clamp_min(0).float()
        self._sum = self._sumsq = None
        self._count = 0


@contextmanager
def _fixed_stats_norms(generator: nn.Module) -> Iterator[list[_FixedStatsNorm]]:
    """Swap every InstanceNorm2d without running statistics for a _FixedStatsNorm, and back."""
    swapped, call_order = [], []
    for parent in list(generator.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.InstanceNorm2d) and not child.track_running_stats:
                stand_in = _FixedStatsNorm(child, call_order)
                setattr(parent, name, stand_in)
                swapped.append((parent, name, child, stand_in))
    try:
        yield [s[3] for s in swapped]
    finally:
        for parent, name, child, _ in swapped:
            setattr(parent, name, child)


# --------------------------------------------------------------------------- the translator

class Translator:
    """A generator ready to translate PIL images or tensors at any size.

    ``translator(image)`` -> image; ``translator([images])`` -> list (same-size images go through
    the network together, ``batch_size`` at a time); ``translator(tensor)`` with N x C x H x W or
    C x H x W values in [-1, 1] -> tensor of the same shape.
    """

    def __init__(self, generator: nn.Module, *, device: torch.device | str = "cpu", precision: str = "fp32",
                 direction: str = "AtoB", tile: int | None = None, tile_overlap: int | None = None,
                 tile_stats: str = "exact", batch_size: int = 4, size: int | None = None, name: str = "generator",
                 progress: bool = False):
        from .precision import resolve_precision

        self.device = torch.device(device)
        self.precision = resolve_precision(precision, self.device)
        ngf = getattr(generator.model[1], "out_channels", 64) if hasattr(generator, "model") else 64
        self.tile = tile if tile is not None else default_tile(ngf)
        if self.tile < 32 or self.tile % MULTIPLE:
            raise UserError(f"--tile {self.tile}: use a multiple of {MULTIPLE}, at least 32")
        overlap = tile_overlap if tile_overlap is not None else self.tile // 4 // MULTIPLE * MULTIPLE
        if not 0 <= overlap <= self.tile // 2:
            raise UserError(f"--tile-overlap {overlap}: use 0 to half the tile ({self.tile // 2})")
        self.tile_overlap = overlap
        if tile_stats not in ("exact", "fast"):
            raise UserError(f"--tile-stats {tile_stats!r}: use exact or fast")
        if batch_size < 1:
            raise UserError(f"--batch-size {batch_size} must be at least 1")
        if size is not None and size < MULTIPLE:
            raise UserError(f"--size {size} is too small; use at least {MULTIPLE}")
        self.tile_stats, self.batch_size, self.size = tile_stats, batch_size, size
        self.direction, self.name, self.progress = direction, name, progress
        self.generator = generator.to(self.device, memory_format=self.precision.memory_format).eval()
        self.input_nc = getattr(generator.model[1], "in_channels", 3) if hasattr(generator, "model") else 3
        self.tiles_run = 0          # network calls on tiles, for callers that want to know

    @classmethod
    def from_checkpoint(cls, path: Path | str | None = None, direction: str | None = None, epoch: str | int = "latest",
                        device: torch.device | str = "auto", precision: str = "auto", *, netG: str | None = None,
                        norm: str | None = None, ngf: int | None = None, **options) -> "Translator":
        """Load a run folder, a generator file or (path None) the newest run under ./checkpoints."""
        from .device import resolve_device

        source = resolve_generator(path, direction, str(epoch), netG=netG, norm=norm, ngf=ngf)
        translator = cls(build_generator(source), device=resolve_device(str(device)), precision=precision,
                         direction=source.direction, name=source.run_name, **options)
        translator.source = source
        return translator

    # ----- public calls

    def __call__(self, item):
        if isinstance(item, Image.Image):
            return self.translate_images([item])[0]
        if isinstance(item, Tensor):
            single = item.dim() == 3
            out = self.translate_tensor(item.unsqueeze(0) if single else item)
            return out[0] if single else out
        if isinstance(item, (list, tuple)):
            return self.translate_images(list(item))
        raise TypeError(f"Translator takes a PIL image, a list of them, or a tensor, not {type(item).__name__}")

    def translate_images(self, images: Sequence[Image.Image]) -> list[Image.Image]:
        """Translate PIL images; EXIF orientation applied, grayscale -> RGB, alpha kept."""
        prepared = [prepare_image(im, self.size, self.input_nc) for im in images]
        outputs: list[Image.Image | None] = [None] * len(prepared)
        by_size: dict[tuple[int, int], list[int]] = {}
        for i, (content, _) in enumerate(prepared):
            by_size.setdefault(content.size, []).append(i)
        for (width, height), indices in by_size.items():
            # A batch never holds more pixels than one tile, so memory stays within the budget.
            chunk = max(1, min(self.batch_size, self.tile ** 2 // max(1, width * height)))
            for k in range(0, len(indices), chunk):
                group = indices[k:k + chunk]
                x = torch.stack([_image_to_tensor(prepared[i][0]) for i in group])
                y = self.translate_tensor(x)
                for i, out in zip(group, y):
                    outputs[i] = attach_alpha(_tensor_to_image(out), prepared[i][1])
        return outputs  # type: ignore[return-value]

    @torch.inference_mode()
    def translate_tensor(self, x: Tensor) -> Tensor:
        """N x C x H x W in [-1, 1] -> N x C' x H x W, whole or tiled; returned on x's device, fp32."""
        if x.dim() != 4:
            raise UserError(f"expected an N x C x H x W tensor, got shape {tuple(x.shape)}")
        height, width = x.shape[-2:]
        padded = pad_to_multiple(x.float())
        if max(padded.shape[-2:]) <= self.tile:
            y = self._forward(padded)
        else:
            y = torch.cat([self._tiled(padded[i:i + 1].cpu()) for i in range(padded.shape[0])])
        return y[..., :height, :width].to(x.device)

    # ----- internals

    def _forward(self, x: Tensor) -> Tensor:
        x = x.to(self.device, memory_format=self.precision.memory_format)
        with self.precision.autocast():
            y = self.generator(x)
        return y.float().contiguous()

    def _tiled(self, image: Tensor) -> Tensor:
        """One padded 1 x C x H x W image (on the CPU) in tiles; the blended result on the CPU."""
        _, _, height, width = image.shape
        rows = plan_axis(height, self.tile, self.tile_overlap)
        cols = plan_axis(width, self.tile, self.tile_overlap)
        with _fixed_stats_norms(self.generator) as norms:
            if norms:
                self._measure_statistics(image, norms, rows, cols)
                for norm in norms:
                    norm.mode = "apply"
            out, weight = None, torch.zeros(1, 1, height, width)
            for r, c in self._tile_iter(rows, cols, "translating tiles"):
                y = self._forward(image[..., r.start:r.start + r.size, c.start:c.start + c.size]).cpu()
                if out is None:
                    out = torch.zeros(1, y.shape[1], height, width)
                w = blend_window(r)[:, None] * blend_window(c)[None, :]
                out[..., r.start:r.start + r.size, c.start:c.start + c.size] += y * w
                weight[..., r.start:r.start + r.size, c.start:c.start + c.size] += w
        return out / weight

    def _measure_statistics(self, image: Tensor, norms: list[_FixedStatsNorm], rows, cols) -> None:
        """Whole-image instance-norm statistics without ever holding the whole image's activations."""
        _, _, height, width = image.shape
        scale = self.tile / max(height, width)
        small = (max(MULTIPLE, round(height * scale / MULTIPLE) * MULTIPLE),
                 max(MULTIPLE, round(width * scale / MULTIPLE) * MULTIPLE))
        for norm in norms:
            norm.mode = "measure"
        call_order = norms[0].call_order
        call_order.clear()
        # A downscaled copy: the starting statistics, and the order in which the norms run.
        self._forward(F.interpolate(image, size=small, mode="bilinear", antialias=True, align_corners=False))
        order = list(dict.fromkeys(call_order))
        if self.tile_stats == "fast":
            self._accumulate_over_tiles(image, order, rows, cols, f"measuring statistics")
            return
        for k, target in enumerate(order):
            for norm in order[:k]:
                norm.mode = "apply"
            target.mode, target.stop = "accumulate", True
            self._accumulate_over_tiles(image, [target], rows, cols, f"statistics {k + 1}/{len(order)}")
            target.stop = False

    def _accumulate_over_tiles(self, image: Tensor, targets: list[_FixedStatsNorm], rows, cols, what: str) -> None:
        for norm in targets:
            norm.mode = "accumulate"
        for r, c in self._tile_iter(rows, cols, what):
            core = (r.core_start - r.start, r.core_end - r.start, c.core_start - c.start, c.core_end - c.start,
                    r.size, c.size)
            for norm in targets:
                norm.core = core
            try:
                self._forward(image[..., r.start:r.start + r.size, c.start:c.start + c.size])
            except _StopForward:
                pass
        for norm in targets:
            norm.take_accumulated()

    def _tile_iter(self, rows, cols, what: str):
        pairs = [(r, c) for r in rows for c in cols]
        if self.progress:
            from tqdm import tqdm
            pairs = tqdm(pairs, desc=what, leave=False, dynamic_ncols=True)
        for pair in pairs:
            self.tiles_run += 1
            yield pair


# --------------------------------------------------------------------------- images in and out

def prepare_image(image: Image.Image, size: int | None = None, channels: int = 3) -> tuple[Image.Image, Image.Image | None]:
    """(content to translate, alpha or None): EXIF orientation applied, optional short-side resize."""
    from .data.images import to_rgb

    image = ImageOps.exif_transpose(image)
    alpha = None
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        # The colour under transparent pixels is kept as it is: alpha is put back afterwards.
        alpha, image = rgba.getchannel("A"), rgba.convert("RGB")
    content = to_rgb(image)
    if channels == 1:
        content = content.convert("L")
    if size is not None:
        content = resize_short_side(content, size)
        alpha = resize_short_side(alpha, size) if alpha is not None else None
    return content, alpha


def resize_short_side(image: Image.Image, size: int) -> Image.Image:
    width, height = image.size
    scale = size / min(width, height)
    new = (max(1, round(width * scale)), max(1, round(height * scale)))
    return image if new == image.size else image.resize(new, Image.BICUBIC)


def attach_alpha(image: Image.Image, alpha: Image.Image | None) -> Image.Image:
    if alpha is None:
        return image
    out = image.convert("RGBA")
    out.putalpha(alpha)
    return out


def _image_to_tensor(image: Image.Image) -> Tensor:
    if image.mode == "L":
        return torch.from_numpy(np.asarray(image, dtype=np.float32)).unsqueeze(0).div(127.5).sub(1.0)
    return to_tensor(image)


def _tensor_to_image(tensor: Tensor) -> Image.Image:
    if tensor.shape[0] == 1:
        array = ((tensor.clamp(-1, 1) + 1.0) * 127.5).round().byte()[0].cpu().numpy()
        return Image.fromarray(array, "L").convert("RGB")
    return to_image(tensor)
