"""The training progression: the same few test images translated after every epoch, as an animation.

Frames live in ``<run>/web/progression/epoch_NNN.png`` (inputs on the top row, the A -> B generator's
translations below). A DCGAN run has its fixed-noise grids in ``<run>/samples/epoch_NNN.png``
instead, written by its own hook; both become ``web/progression.gif`` and, when an ffmpeg
encoder is available (imageio-ffmpeg's bundled one or ``ffmpeg`` on PATH), ``progression.mp4``.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import torch
from PIL import Image, ImageDraw, ImageFont

from ..checkpoint import atomic_write_bytes, unwrap
from ..config import Config
from ..data.domains import resolve_dataroot, resolve_domain
from ..data.images import decode_or_skip, list_images
from ..inference.generators import load_generator
from ..data.pixels import gif_bytes, png_bytes, resize_and_centre_crop, to_images, to_tensor
from ..models import card_of
from ..runfolder import RunFolder
from ..inference.translate import Translator

FIXED_COUNT = 4
MAX_TILE = 256
MAX_FRAMES = 120        # longer runs are thinned evenly (the last frame is always kept)
SECONDS_PER_FRAME = 0.5
_EPOCH_FILE = re.compile(r"^epoch_(\d+)\.png$")


def draws_from_noise(cfg: Config) -> bool:
    """A run of a model that makes images from noise: its frames are fixed-noise samples, not translations."""
    return not card_of(cfg).translates


def progression_dir(run_dir: Path) -> Path:
    return RunFolder(run_dir).progression_dir


def frame_path(run_dir: Path, epoch: int) -> Path:
    return RunFolder(run_dir).progression_frame(epoch)


def fixed_input_paths(cfg: Config, count: int = FIXED_COUNT) -> list[Path]:
    """The first ``count`` images of domain A's test split (its training images when it has none)."""
    d = cfg.data
    domain = resolve_dataroot(d.dataroot)[0] if d.dataroot else resolve_domain(d.domainA or "", d.datasets_dir, "--domainA")
    pool = list_images(domain.test_dir) if domain.test_dir is not None else []
    return (pool or list_images(domain.train_dir))[:count]


def load_fixed_inputs(paths: list[Path], size: int) -> torch.Tensor:
    """N x 3 x size x size in [-1, 1]: each image resized (shorter side) and centre-cropped."""
    size = max(4, size - size % 4)
    # A damaged photo (its header reads, its data is cut short) is left out, not the whole progression.
    images = [image for image in (decode_or_skip(path, "the progression") for path in paths) if image is not None]
    return torch.stack([to_tensor(resize_and_centre_crop(image, size)) for image in images])


@torch.no_grad()
def render_frame(generator: torch.nn.Module, inputs: torch.Tensor, device) -> Image.Image:
    """Top row the inputs, bottom row their translations; the generator's train/eval mode is restored."""
    net = unwrap(generator)
    was_training = net.training
    net.eval()
    try:
        dtype = next(net.parameters()).dtype
        outputs = net(inputs.to(device=device, dtype=dtype)).float().cpu()
    finally:
        net.train(was_training)
    return frame_image(inputs, outputs)


def frame_image(inputs: torch.Tensor, outputs: torch.Tensor) -> Image.Image:
    """Top row the inputs, bottom row their translations (N x 3 x S x S each, in [-1, 1])."""
    return tile_grid(to_images(inputs) + to_images(outputs), columns=len(inputs))


def tile_grid(images: list[Image.Image], columns: int, pad: int = 2) -> Image.Image:
    width, height = images[0].size
    rows = -(-len(images) // columns)
    grid = Image.new("RGB", (columns * (width + pad) + pad, rows * (height + pad) + pad), "white")
    for i, image in enumerate(images):
        grid.paste(image.resize((width, height)), (pad + (i % columns) * (width + pad), pad + (i // columns) * (height + pad)))
    return grid


def save_png(image: Image.Image, path: Path) -> None:
    atomic_write_bytes(path, png_bytes(image))


def collect_frames(run_dir: Path, cfg: Config) -> list[tuple[int, Path]]:
    """(epoch, file) of every frame, oldest first: DCGAN samples or translated test images."""
    run = RunFolder(run_dir)
    folder = run.samples_dir if draws_from_noise(cfg) else run.progression_dir
    if not folder.is_dir():
        return []
    frames = []
    for path in folder.iterdir():
        match = _EPOCH_FILE.match(path.name)
        if match and path.is_file():
            frames.append((int(match.group(1)), path))
    return sorted(frames)


def find_ffmpeg() -> str | None:
    try:
        import imageio_ffmpeg  # an optional extra: only looked for when an animation is written
        return imageio_ffmpeg.get_ffmpeg_exe()
    except Exception:  # not installed, or its binary missing for this platform
        return shutil.which("ffmpeg")


def build_animation(run_dir: Path, cfg: Config, mp4: bool = True) -> dict[str, Path]:
    """Write ``web/progression.gif`` (and ``.mp4``) from the frames; returns what was written."""
    frames = collect_frames(run_dir, cfg)
    if not frames:
        return {}
    if len(frames) > MAX_FRAMES:
        keep = {round(i * (len(frames) - 1) / (MAX_FRAMES - 1)) for i in range(MAX_FRAMES)}
        frames = [frame for i, frame in enumerate(frames) if i in keep]
    images = [_labelled(Image.open(path).convert("RGB"), f"epoch {epoch}") for epoch, path in frames]
    size = images[0].size
    images = [im if im.size == size else im.resize(size) for im in images]
    run = RunFolder(run_dir)
    written = {}
    durations = [int(SECONDS_PER_FRAME * 1000)] * len(images)
    durations[-1] *= 4  # linger on the final result before looping
    atomic_write_bytes(run.progression_animation("gif"), gif_bytes(images, durations))
    written["gif"] = run.progression_animation("gif")
    ffmpeg = find_ffmpeg() if mp4 else None
    if ffmpeg and _write_mp4(ffmpeg, images + [images[-1]] * 3, run.progression_animation("mp4")):
        written["mp4"] = run.progression_animation("mp4")
    return written


def _write_mp4(ffmpeg: str, images: list[Image.Image], path: Path) -> bool:
    width, height = images[0].size
    fd, tmp = tempfile.mkstemp(prefix=".progression.", suffix=".mp4", dir=path.parent)
    os.close(fd)
    raw = b"".join(im.tobytes() for im in images)
    for codec in ("libx264", "mpeg4"):
        command = [ffmpeg, "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
                   "-s", f"{width}x{height}", "-r", str(1 / SECONDS_PER_FRAME), "-i", "-",
                   "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-c:v", codec, "-pix_fmt", "yuv420p",
                   "-movflags", "+faststart", tmp]
        try:
            result = subprocess.run(command, input=raw, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)
        except (OSError, subprocess.TimeoutExpired):
            break
        if result.returncode == 0 and os.path.getsize(tmp) > 0:
            os.replace(tmp, path)
            return True
    if os.path.exists(tmp):
        os.unlink(tmp)
    return False


def _labelled(image: Image.Image, text: str) -> Image.Image:
    """The frame with a white strip on top naming its epoch."""
    strip = 14
    out = Image.new("RGB", (image.width, image.height + strip), "white")
    out.paste(image, (0, strip))
    ImageDraw.Draw(out).text((3, 2), text, fill="black", font=ImageFont.load_default())
    return out


def render_missing_frames(run_dir: Path, cfg: Config, device, progress=lambda items: items) -> int:
    """Frames for the kept epoch checkpoints (``<N>_net_<A->B generator>.pth``) that have none yet; when there is
    no frame at all, one from the latest weights. Returns how many were rendered."""
    if draws_from_noise(cfg):
        return 0
    run, generator = RunFolder(run_dir), card_of(cfg).generator
    todo = [(epoch, str(epoch)) for epoch in run.kept_epochs(generator) if not run.progression_frame(epoch).exists()]
    if not todo and not collect_frames(run.path, cfg) and run.weights(generator).is_file():
        saved = run.saved_progress()
        if saved.epoch is not None:
            todo = [(saved.epoch - 1 if saved.batch == 0 else saved.epoch, "latest")]
    if not todo:
        return 0
    inputs = load_fixed_inputs(fixed_input_paths(cfg), min(cfg.data.crop_size, MAX_TILE))
    for epoch, tag in progress(todo):
        # Whole, in fp32: the frame shows exactly what the network makes of these images.
        translator = Translator(load_generator(run, "AtoB", tag, device), device=device, tiling=False)
        save_png(frame_image(inputs, translator.translate_tensor(inputs)), run.progression_frame(max(epoch, 0)))
    return len(todo)
