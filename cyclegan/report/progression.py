"""The training progression: the same few test images translated after every epoch, as an animation.

Frames live in ``<run>/web/progression/epoch_NNN.png`` (inputs on the top row, G_A's
translations below). A DCGAN run has its fixed-noise grids in ``<run>/samples/epoch_NNN.png``
instead, written by its own hook; both become ``web/progression.gif`` and, when an ffmpeg
encoder is available (imageio-ffmpeg's bundled one or ``ffmpeg`` on PATH), ``progression.mp4``.
"""
from __future__ import annotations

import io
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
from ..data.images import list_images, load_rgb
from ..data.transforms import to_image, to_tensor

FIXED_COUNT = 4
MAX_TILE = 256
MAX_FRAMES = 120        # longer runs are thinned evenly (the last frame is always kept)
SECONDS_PER_FRAME = 0.5
_EPOCH_FILE = re.compile(r"^epoch_(\d+)\.png$")


def is_dcgan(cfg: Config) -> bool:
    return cfg.model.model == "dcgan"


def progression_dir(run_dir: Path) -> Path:
    return Path(run_dir) / "web" / "progression"


def frame_path(run_dir: Path, epoch: int) -> Path:
    return progression_dir(run_dir) / f"epoch_{epoch:03d}.png"


def fixed_input_paths(cfg: Config, count: int = FIXED_COUNT) -> list[Path]:
    """The first ``count`` images of domain A's test split (its training images when it has none)."""
    d = cfg.data
    domain = resolve_dataroot(d.dataroot)[0] if d.dataroot else resolve_domain(d.domainA or "", d.datasets_dir, "--domainA")
    pool = list_images(domain.test_dir) if domain.test_dir is not None else []
    return (pool or list_images(domain.train_dir))[:count]


def load_fixed_inputs(paths: list[Path], size: int) -> torch.Tensor:
    """N x 3 x size x size in [-1, 1]: each image resized (shorter side) and centre-cropped."""
    size = max(4, size - size % 4)
    tiles = []
    for path in paths:
        image = load_rgb(path)
        scale = size / min(image.size)
        image = image.resize((max(size, round(image.width * scale)), max(size, round(image.height * scale))),
                             Image.BICUBIC)
        left, top = (image.width - size) // 2, (image.height - size) // 2
        tiles.append(to_tensor(image.crop((left, top, left + size, top + size))))
    return torch.stack(tiles)


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
    tiles = [to_image(x) for x in inputs] + [to_image(y) for y in outputs]
    return tile_grid(tiles, columns=len(inputs))


def tile_grid(images: list[Image.Image], columns: int, pad: int = 2) -> Image.Image:
    width, height = images[0].size
    rows = -(-len(images) // columns)
    grid = Image.new("RGB", (columns * (width + pad) + pad, rows * (height + pad) + pad), "white")
    for i, image in enumerate(images):
        grid.paste(image.resize((width, height)), (pad + (i % columns) * (width + pad), pad + (i // columns) * (height + pad)))
    return grid


def save_png(image: Image.Image, path: Path) -> None:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    atomic_write_bytes(path, buffer.getvalue())


def collect_frames(run_dir: Path, cfg: Config) -> list[tuple[int, Path]]:
    """(epoch, file) of every frame, oldest first: DCGAN samples or translated test images."""
    folder = Path(run_dir) / "samples" if is_dcgan(cfg) else progression_dir(run_dir)
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
        import imageio_ffmpeg
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
    web = Path(run_dir) / "web"
    written = {}
    buffer = io.BytesIO()
    durations = [int(SECONDS_PER_FRAME * 1000)] * len(images)
    durations[-1] *= 4  # linger on the final result before looping
    images[0].save(buffer, "GIF", save_all=True, append_images=images[1:], duration=durations, loop=0)
    atomic_write_bytes(web / "progression.gif", buffer.getvalue())
    written["gif"] = web / "progression.gif"
    ffmpeg = find_ffmpeg() if mp4 else None
    if ffmpeg and _write_mp4(ffmpeg, images + [images[-1]] * 3, web / "progression.mp4"):
        written["mp4"] = web / "progression.mp4"
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
    """Frames for the kept epoch checkpoints (``<N>_net_G_A.pth``) that have none yet; when there is
    no frame at all, one from the latest weights. Returns how many were rendered."""
    from ..translate import load_generator
    from .html_report import checkpoint_info

    if is_dcgan(cfg):
        return 0
    run_dir = Path(run_dir)
    info = checkpoint_info(run_dir)
    todo = [(epoch, str(epoch)) for epoch in info.kept_epochs
            if (run_dir / f"{epoch}_net_G_A.pth").is_file() and not frame_path(run_dir, epoch).exists()]
    if not todo and not collect_frames(run_dir, cfg) and (run_dir / "latest_net_G_A.pth").is_file():
        if info.epoch is not None:
            todo = [(info.epoch - 1 if info.batch == 0 else info.epoch, "latest")]
    if not todo:
        return 0
    inputs = load_fixed_inputs(fixed_input_paths(cfg), min(cfg.data.crop_size, MAX_TILE))
    for epoch, tag in progress(todo):
        generator = load_generator(run_dir, "AtoB", tag, device)
        save_png(render_frame(generator, inputs, device), frame_path(run_dir, max(epoch, 0)))
    return len(todo)
