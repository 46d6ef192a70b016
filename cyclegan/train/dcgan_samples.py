"""What a DCGAN makes of one fixed noise batch, epoch by epoch, as the seed articles show it.

``<run_dir>/samples/epoch_000.png`` is the untrained generator (written when the run starts),
``epoch_NNN.png`` the generator after epoch NNN, and at the end of training
``samples/training.gif`` animates all grids in order. A resumed run adds to the same folder.
"""
from __future__ import annotations

from pathlib import Path

from ..checkpoint import atomic_write_bytes
from ..sample import gif_bytes, image_grid, png_bytes
from .hooks import Hook, RunContext

SAMPLES_DIR = "samples"
ANIMATION_FILE = "training.gif"


def epoch_grid_path(run_dir: Path, epoch: int) -> Path:
    return Path(run_dir) / SAMPLES_DIR / f"epoch_{epoch:03d}.png"


def epoch_grids(run_dir: Path) -> list[Path]:
    """The saved grids in epoch order (numeric, so epoch_1000 follows epoch_999)."""
    found = (Path(run_dir) / SAMPLES_DIR).glob("epoch_*.png")
    return sorted((p for p in found if p.stem[6:].isdigit()), key=lambda p: int(p.stem[6:]))


class DCGANSamples(Hook):
    """Renders the model's fixed-noise batch at each epoch end; animates the grids at the end."""

    def on_start(self, ctx: RunContext, progress) -> None:
        before = epoch_grid_path(ctx.run_dir, progress.epoch - 1)
        if progress.step == 0 and not before.exists():
            self._render(ctx, before)

    def on_epoch_end(self, ctx: RunContext, progress, epoch: int) -> None:
        self._render(ctx, epoch_grid_path(ctx.run_dir, epoch))

    def on_end(self, ctx: RunContext, progress, interrupted: bool) -> None:
        grids = epoch_grids(ctx.run_dir)
        if not grids:
            return
        from PIL import Image
        frames = []
        for path in grids:
            with Image.open(path) as image:
                frames.append(image.convert("RGB"))
        atomic_write_bytes(Path(ctx.run_dir) / SAMPLES_DIR / ANIMATION_FILE, gif_bytes(frames))

    @staticmethod
    def _render(ctx: RunContext, path: Path) -> None:
        atomic_write_bytes(path, png_bytes(image_grid(ctx.model.fixed_samples(), nrow=8)))
