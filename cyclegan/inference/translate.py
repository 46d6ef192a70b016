"""Translating images with a trained generator (no training code imported here).

    from cyclegan.inference.translate import Translator
    translate = Translator.from_checkpoint("checkpoints/forest2abstract", direction="AtoB")
    painting = translate(Image.open("photo.jpg"))          # PIL in, PIL out, any size

Full resolution: an image is reflection-padded to the network's multiple (4 for a ResNet,
2**num_downs for a U-Net: ``network_geometry``), translated whole and cropped back. Images with a side above ``tile`` pixels are translated in overlapping tiles whose
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

Before an image is translated its memory is estimated (the whole-image buffers, plus the
activations of one tile or of the untiled image) and an image that cannot fit in the memory
available is refused in one line (``too_large``), instead of ending in MemoryError. A tiled
image that will take long says so first, with the time ``fast`` statistics would take: both are
timed from the downscaled pass that starts every tiled translation.
"""
from __future__ import annotations

import math
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor, nn

from cyclegan.progress import progress_bar
from ..data.images import to_rgb
from ..device import available_memory, format_bytes, resolve_device
from ..errors import UserError
from .generators import GeneratorSource, build_generator, resolve_generator
from ..data.pixels import attach_alpha, resize_short_side, split_alpha, to_image, to_tensor, upright
from ..precision import resolve_precision

MULTIPLE = 4                        # a ResNet generator downsamples twice (a U-Net declares its own)
MIN_SIZE = 8                        # a ResNet generator's smallest side (see ResnetGenerator.min_size)
# Peak activation memory of a ResNet generator measured here: about 16 bytes per pixel per ngf
# (fp32, inference mode), plus a fixed part. The default tile keeps it near 1.25 GiB, which
# with the whole-image buffers keeps a 12-megapixel translation under about 2 GB.
ACTIVATION_BUDGET = 1.25 * 2 ** 30
# What a translation holds for the whole image, whatever the tiling: the decoded and resized
# input, its float tensor and padded copy, the blended output and its weights, the 8-bit result.
# Measured here: ~58 bytes per pixel for a 12-megapixel image (tests/test_translate.py).
WHOLE_IMAGE_BYTES_PER_PIXEL = 64
LONG_TRANSLATION_S = 30.0           # a tiled image expected to take longer says so first


def network_geometry(generator: nn.Module) -> tuple[int, int, int, int]:
    """(size_multiple, min_size, ngf, input_nc) of a generator, read from what it declares.

    ``size_multiple``: sides the network takes (4 for a ResNet, 2**num_downs for a U-Net);
    ``min_size``: the smallest side it can translate. Both default to the ResNet's. ngf and
    input channels come from the first convolution (every generator starts with one).
    """
    first = next((m for m in generator.modules() if isinstance(m, nn.Conv2d)), None)
    ngf = first.out_channels if first is not None else 64
    input_nc = first.in_channels if first is not None else 3
    return (int(getattr(generator, "size_multiple", MULTIPLE)), int(getattr(generator, "min_size", MIN_SIZE)),
            ngf, input_nc)


def pad_to_multiple(x: Tensor, multiple: int = MULTIPLE) -> Tensor:
    """Reflection-pad the bottom/right edges up to a multiple (replicate where reflection cannot reach)."""
    height, width = x.shape[-2:]
    pad_h, pad_w = (-height) % multiple, (-width) % multiple
    if not (pad_h or pad_w):
        return x
    mode = "reflect" if min(height, width) > max(pad_h, pad_w) else "replicate"
    return F.pad(x, (0, pad_w, 0, pad_h), mode=mode)

# --------------------------------------------------------------------------- tiles

def activation_bytes_per_pixel(ngf: int) -> int:
    """Peak activation memory of one forward pass per input pixel (fp32, inference mode)."""
    return 18 * ngf + 64


def default_tile(ngf: int = 64) -> int:
    """Largest tile side (a multiple of 64) whose activations fit ACTIVATION_BUDGET."""
    side = math.isqrt(int(ACTIVATION_BUDGET // activation_bytes_per_pixel(ngf)))
    return max(64, side // 64 * 64)


def tile_pass_seconds(seconds: float, reached: list[float], timed_pixels: int, tiled_pixels: int) -> dict[str, float]:
    """How long the tiled translation of an image takes, per --tile_stats, from one timed pass.

    ``seconds``: a forward pass over ``timed_pixels`` pixels; ``reached``: when, in that pass, each
    instance norm was reached (in the order they run); ``tiled_pixels``: all tiles' pixels together.
    fast runs two passes over the tiles; exact one per norm, each stopping at its norm, then the
    translating pass.
    """
    full = seconds * tiled_pixels / max(1, timed_pixels)
    share = sum(min(t / seconds, 1.0) for t in reached) if seconds > 0 else len(reached)
    return {"fast": 2 * full, "exact": full * (1 + share)}


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


@dataclass(frozen=True)
class Span:
    start: int              # the tile covers [start, start + size)
    size: int
    core_start: int         # the tiles' cores partition the axis (statistics count each pixel once)
    core_end: int
    ramp_before: int        # overlap with the previous tile (blended over these pixels)
    ramp_after: int


def plan_axis(length: int, tile: int, overlap: int, multiple: int = MULTIPLE) -> list[Span]:
    """Tiles of ``tile`` pixels along one axis, starts on multiples of ``multiple``, overlapping by >= ~overlap."""
    if length <= tile:
        return [Span(0, length, 0, length, 0, 0)]
    count = math.ceil((length - overlap) / (tile - overlap))
    starts = [(i * (length - tile) // (count - 1)) // multiple * multiple for i in range(count)]
    starts[-1] = length - tile
    # The boundary between two cores sits in the middle of their overlap.
    bounds = [0] + [(starts[i + 1] + starts[i] + tile) // 2 // multiple * multiple for i in range(count - 1)] + [length]
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

    ``tiling=False`` translates every image whole, whatever its size (evaluation does, so its
    numbers never depend on a memory budget). Files and folders: ``cyclegan.inference.translate_files``.

    ``memory_limit``: bytes an image may need (default None: the memory available when it comes);
    larger images are refused. ``log`` receives the one line that says a tiled image will take long.
    """

    def __init__(self, generator: nn.Module, *, device: torch.device | str = "cpu", precision: str = "fp32",
                 direction: str = "AtoB", tile: int | None = None, tile_overlap: int | None = None,
                 tile_stats: str = "exact", batch_size: int = 4, size: int | None = None, name: str = "generator",
                 progress: bool = False, tiling: bool = True, memory_limit: int | None = None,
                 log: Callable[[str], None] | None = None):
        self.device = torch.device(device)
        self.precision = resolve_precision(precision, self.device)
        self.multiple, self.min_size, ngf, self.input_nc = network_geometry(generator)
        self.ngf, self.memory_limit, self.log = ngf, memory_limit, log
        self._told_duration = False     # the long-translation line is said once
        multiple = self.multiple
        self.tile = tile if tile is not None else max(multiple, default_tile(ngf) // multiple * multiple)
        if self.tile < max(32, multiple) or self.tile % multiple:
            raise UserError(f"--tile {self.tile}: use a multiple of {multiple}, at least {max(32, multiple)}")
        overlap = tile_overlap if tile_overlap is not None else self.tile // 4 // multiple * multiple
        if not 0 <= overlap <= self.tile // 2:
            raise UserError(f"--tile-overlap {overlap}: use 0 to half the tile ({self.tile // 2})")
        self.tile_overlap = overlap
        if tile_stats not in ("exact", "fast"):
            raise UserError(f"--tile-stats {tile_stats!r}: use exact or fast")
        if batch_size < 1:
            raise UserError(f"--batch-size {batch_size} must be at least 1")
        if size is not None and size < self.min_size:
            raise UserError(f"--size {size} is too small: this generator needs images of at least "
                            f"{self.min_size} x {self.min_size} pixels; use --size {self.min_size} or more")
        self.tile_stats, self.batch_size, self.size = tile_stats, batch_size, size
        self.direction, self.name, self.progress, self.tiling = direction, name, progress, tiling
        why = self.too_large(size, size) if size is not None else None   # the smallest image --size makes
        if why:
            raise UserError(f"--size {size}: {why}")
        self.source: GeneratorSource | None = None     # set by from_checkpoint
        # A network already on the device keeps its layout (a live training network stays as
        # training left it); channels-last only where the precision wants it.
        if self.precision.channels_last:
            generator = generator.to(self.device, memory_format=torch.channels_last)
        self.generator = generator.to(self.device).eval()
        self.tiles_run = 0          # network calls on tiles, for callers that want to know

    @classmethod
    def from_checkpoint(cls, path: Path | str | None = None, direction: str | None = None, epoch: str | int = "latest",
                        device: torch.device | str = "auto", precision: str = "fp32", *, netG: str | None = None,
                        norm: str | None = None, ngf: int | None = None, **options) -> "Translator":
        """Load a run folder, a generator file or (path None) the newest run under ./checkpoints."""
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
        for image in images:   # before any resizing: that alone may not fit
            why = self.too_large(*upright_size(image))
            if why:
                raise UserError(why)
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
                x = torch.stack([to_tensor(prepared[i][0]) for i in group])
                y = self.translate_tensor(x)
                for i, out in zip(group, y):
                    outputs[i] = attach_alpha(to_image(out, rgb=True), prepared[i][1])
        return outputs  # type: ignore[return-value]

    def translate_stored(self, image: Image.Image) -> Image.Image:
        """One RGB image exactly as it is stored: no EXIF rotation, resizing or alpha handling.

        What evaluation uses: the output has the pixel grid of the input, so it compares pixel
        by pixel with a truth (or sits beside real images) loaded the same way.
        """
        return to_image(self.translate_tensor(to_tensor(image.convert("RGB")).unsqueeze(0))[0], rgb=True)

    @torch.inference_mode()
    def translate_tensor(self, x: Tensor) -> Tensor:
        """N x C x H x W in [-1, 1] -> N x C' x H x W, whole or tiled; returned on x's device, fp32."""
        if x.dim() != 4:
            raise UserError(f"expected an N x C x H x W tensor, got shape {tuple(x.shape)}")
        height, width = x.shape[-2:]
        self.check_size(width, height)
        padded = pad_to_multiple(x.float(), self.multiple)
        if not self.tiling or max(padded.shape[-2:]) <= self.tile:
            y = self._forward(padded)
        else:
            y = torch.cat([self._tiled(padded[i:i + 1].cpu()) for i in range(padded.shape[0])])
        return y[..., :height, :width].to(x.device)

    def too_small(self, width: int, height: int) -> str | None:
        """Why an image of this size cannot be translated (None when it can)."""
        if min(width, height) >= self.min_size:
            return None
        return (f"{width} x {height} pixels is too small: this generator needs at least "
                f"{self.min_size} x {self.min_size}")

    def output_size(self, width: int, height: int) -> tuple[int, int]:
        """The size an upright image of this size is translated at (after --size)."""
        if self.size is None:
            return width, height
        scale = self.size / min(width, height)
        return max(1, round(width * scale)), max(1, round(height * scale))

    def memory_needed(self, width: int, height: int) -> int:
        """Estimated bytes of host memory to translate one upright image of this size."""
        return self._memory_at(*self.output_size(width, height))

    def too_large(self, width: int, height: int) -> str | None:
        """Why an upright image of this size cannot be translated in the memory there is (None: it can)."""
        needed = self.memory_needed(width, height)
        limit = self.memory_limit if self.memory_limit is not None else available_memory()
        if needed <= limit:
            return None
        out_w, out_h = self.output_size(width, height)
        fits = self._largest_short_side(out_w, out_h, limit)
        advice = (f"translate it smaller, with --size {fits} or less" if fits else
                  "free some memory first (it does not fit even at the smallest size)")
        return (f"translating {out_w} x {out_h} pixels needs about {format_bytes(needed)} of memory and "
                f"{format_bytes(limit)} is available: {advice}")

    def _memory_at(self, width: int, height: int) -> int:
        """Bytes to translate an image of exactly this size: its whole-image buffers, and the
        activations of one tile or of the untiled image (on the host only for the CPU)."""
        pixels = width * height
        tiled = self.tiling and max(width, height) > self.tile
        activations = activation_bytes_per_pixel(self.ngf) * (self.tile ** 2 if tiled else pixels)
        on_host = self.device.type == "cpu"     # elsewhere activations live in the device's memory
        return WHOLE_IMAGE_BYTES_PER_PIXEL * pixels + (activations if on_host else 0)

    def _largest_short_side(self, width: int, height: int, limit: int) -> int | None:
        """The largest --size at which an image of this shape fits ``limit`` (None: not even the smallest)."""
        short, long = min(width, height), max(width, height)
        fits = lambda side: self._memory_at(side, max(1, round(long * side / short))) <= limit
        if not fits(self.min_size):
            return None
        low, high = self.min_size, short        # fits(low), not fits(high)
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (middle, high) if fits(middle) else (low, middle)
        return low

    def check_size(self, width: int, height: int) -> None:
        why = self.too_small(width, height)
        if why:
            raise UserError(f"{why}; enlarge the image first")

    # ----- internals

    def _forward(self, x: Tensor) -> Tensor:
        x = x.to(self.device, memory_format=self.precision.memory_format)
        with self.precision.autocast():
            y = self.generator(x)
        return y.float().contiguous()

    def _tiled(self, image: Tensor) -> Tensor:
        """One padded 1 x C x H x W image (on the CPU) in tiles; the blended result on the CPU."""
        _, _, height, width = image.shape
        rows = plan_axis(height, self.tile, self.tile_overlap, self.multiple)
        cols = plan_axis(width, self.tile, self.tile_overlap, self.multiple)
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
        m = -(-max(self.multiple, self.min_size) // self.multiple) * self.multiple   # smallest side it takes
        small = (max(m, round(height * scale / self.multiple) * self.multiple),
                 max(m, round(width * scale / self.multiple) * self.multiple))
        # A downscaled copy: the starting statistics, and the order in which the norms run.
        downscaled = F.interpolate(image, size=small, mode="bilinear", antialias=True, align_corners=False)
        seconds, reached = self._timed_pass(downscaled, norms)
        order = list(dict.fromkeys(norms[0].call_order))
        if self.log is not None and not self._told_duration:
            tiled_pixels = sum(r.size * c.size for r in rows for c in cols)
            times = tile_pass_seconds(seconds, [reached[n] for n in order], small[0] * small[1], tiled_pixels)
            if times[self.tile_stats] >= LONG_TRANSLATION_S:   # timed again, warm: a first call is slower
                seconds, reached = self._timed_pass(downscaled, norms)
                times = tile_pass_seconds(seconds, [reached[n] for n in order], small[0] * small[1], tiled_pixels)
                self._tell_duration(times, len(rows) * len(cols), (height, width))
        if self.tile_stats == "fast":
            self._accumulate_over_tiles(image, order, rows, cols, f"measuring statistics")
            return
        for k, target in enumerate(order):
            for norm in order[:k]:
                norm.mode = "apply"
            target.mode, target.stop = "accumulate", True
            self._accumulate_over_tiles(image, [target], rows, cols, f"statistics {k + 1}/{len(order)}")
            target.stop = False

    def _now(self) -> float:
        if self.device.type == "cuda":   # the clock must not run ahead of the device
            torch.cuda.synchronize(self.device)
        return time.perf_counter()

    def _timed_pass(self, x: Tensor, norms: list[_FixedStatsNorm]) -> tuple[float, dict[nn.Module, float]]:
        """One forward pass measuring the norms' statistics: (seconds, when each norm was reached)."""
        for norm in norms:
            norm.mode = "measure"
        norms[0].call_order.clear()
        reached: dict[nn.Module, float] = {}

        def note_arrival(module: nn.Module, _) -> None:     # returns None: the input goes on unchanged
            reached.setdefault(module, self._now() - start)

        hooks = [norm.register_forward_pre_hook(note_arrival) for norm in norms]
        start = self._now()
        try:
            self._forward(x)
        finally:
            for hook in hooks:
                hook.remove()
        return self._now() - start, reached

    def _tell_duration(self, times: dict[str, float], tiles: int, size: tuple[int, int]) -> None:
        """Say once, before the long part, how long a tiled image will take when that is long."""
        expected, fast = times[self.tile_stats], times["fast"]
        if expected < LONG_TRANSLATION_S:
            return
        self._told_duration = True
        height, width = size
        line = (f"{width} x {height} pixels in {tiles} tiles: about {_duration(expected)} "
                f"with --tile_stats {self.tile_stats}")
        if self.tile_stats == "exact" and fast < 0.8 * expected:
            line += f"; --tile_stats fast takes about {_duration(fast)} (its colours may drift slightly)"
        self.log(line)

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
            pairs = progress_bar(pairs, desc=what, leave=False, dynamic_ncols=True)
        for pair in pairs:
            self.tiles_run += 1
            yield pair



# --------------------------------------------------------------------------- images in

def upright_size(image: Image.Image) -> tuple[int, int]:
    """(width, height) after EXIF orientation, without decoding or rotating anything."""
    orientation = image.getexif().get(0x0112, 1) if hasattr(image, "getexif") else 1
    width, height = image.size
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


def prepare_image(image: Image.Image, size: int | None = None, channels: int = 3) -> tuple[Image.Image, Image.Image | None]:
    """(content to translate, alpha or None): EXIF orientation applied, optional short-side resize."""
    content, alpha = split_alpha(upright(image))
    content = to_rgb(content)
    if channels == 1:
        content = content.convert("L")
    if size is not None:
        content = resize_short_side(content, size)
        alpha = resize_short_side(alpha, size) if alpha is not None else None
    return content, alpha
