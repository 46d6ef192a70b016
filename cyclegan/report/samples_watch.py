"""What a DCGAN makes of one fixed noise batch, epoch by epoch, as the seed articles show it.

``<run_dir>/samples/epoch_000.png`` is the untrained generator (written when the run starts),
``epoch_NNN.png`` the generator after epoch NNN, and at the end of training
``samples/training.gif`` animates all grids in order. A resumed run adds to the same folder.
"""
from __future__ import annotations

from pathlib import Path

from PIL import Image

from ..checkpoint import atomic_write_bytes
from ..events import EpochEnded, RunEnded, RunStarted
from ..runfolder import RunFolder
from ..inference.sample import gif_bytes, image_grid, png_bytes

ANIMATION_FILE = "training.gif"


def epoch_grid_path(run_dir: Path, epoch: int) -> Path:
    return RunFolder(run_dir).samples_dir / f"epoch_{epoch:03d}.png"


def epoch_grids(run_dir: Path) -> list[Path]:
    """The saved grids in epoch order (numeric, so epoch_1000 follows epoch_999)."""
    found = RunFolder(run_dir).samples_dir.glob("epoch_*.png")
    return sorted((p for p in found if p.stem[6:].isdigit()), key=lambda p: int(p.stem[6:]))


class DCGANSamplesWatcher:
    """Renders the model's fixed-noise batch at each epoch end; animates the grids at the end."""

    def __init__(self, sampler: str = "fixed_noise"):
        self.sampler = sampler
        self.started: RunStarted | None = None

    def __call__(self, event) -> None:
        match event:
            case RunStarted():
                self.started = event
                before = epoch_grid_path(event.run_dir, event.position.epoch - 1)
                if event.position.step == 0 and not before.exists():
                    self._render(before)
            case EpochEnded():
                self._render(epoch_grid_path(self.started.run_dir, event.epoch))
            case RunEnded():
                self._animate()

    def _render(self, path: Path) -> None:
        atomic_write_bytes(path, png_bytes(image_grid(self.started.samplers[self.sampler](), nrow=8)))

    def _animate(self) -> None:
        grids = epoch_grids(self.started.run_dir)
        if not grids:
            return
        frames = []
        for path in grids:
            with Image.open(path) as image:
                frames.append(image.convert("RGB"))
        atomic_write_bytes(RunFolder(self.started.run_dir).samples_dir / ANIMATION_FILE, gif_bytes(frames))
