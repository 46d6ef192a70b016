"""What a metrics dashboard (TensorBoard, Weights & Biases) records of a run, whatever the backend.

The same content as the visdom dashboard, with x = the global step (steps done):

    loss/<name>      each loss as the loss log's line holds it (``LossesLogged``): the mean over
                     --print_freq steps (a shorter window at an epoch's end, at the run's end, or
                     up to a measurement that took the losses along)
    learning_rate    the scheduled rate at the last step of the window
    throughput       iterations per second over the window
    epoch            the epoch fraction (visdom's x axis), so a chart can be read in epochs too
    KID, KID_AtoB..  whatever a ``Measured`` event carries, under its own names
    visuals          the step images as one grid (A side row, B side row) every --display_freq
                     steps, at each epoch's end and at the run's end
    samples/<name>   a model's samplers (DCGAN's fixed_noise) as a grid, at the same moments

A backend subclass opens, writes and closes; this class decides what and when. Writing never
stops training: a failure warns once and the run continues.
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Callable, Mapping

import numpy as np
import torch
from torch import Tensor
from torchvision.utils import make_grid

from ..config import Config
from ..events import CheckpointSaved, EpochEnded, LossesLogged, Measured, RunEnded, RunStarted, StepEnded
from .visuals import grid_columns, images_to_array, visuals_to_images

SAMPLES_SHOWN = 64  # images of a sampler's batch in its grid


class MetricWatcher:
    backend = "metrics"   # named in warnings

    def __init__(self, cfg: Config, run_dir: str | Path):
        self.cfg = cfg
        self.run_dir = Path(run_dir)
        self.open = False
        self._samplers: Mapping[str, Callable[[], Tensor]] = {}
        self._images_at: int | None = None   # the step whose images were last written
        self._warned = False

    # --- what a backend does --------------------------------------------------------------
    def _start(self, event: RunStarted) -> None:
        raise NotImplementedError

    def _scalars(self, values: dict[str, float], step: int) -> None:
        raise NotImplementedError

    def _image(self, name: str, grid: np.ndarray, caption: str, step: int) -> None:
        """``grid``: H x W x 3 uint8."""
        raise NotImplementedError

    def _end(self, event: RunEnded) -> None:
        raise NotImplementedError

    # --- the moments of a run -------------------------------------------------------------
    def __call__(self, event) -> None:
        match event:
            case RunStarted():
                self._samplers = event.samplers
                self._guard(f"start {self.backend} logging", self._start, event)
            case _ if not self.open:
                return
            case StepEnded(position=position) if position.step % self.cfg.train.display_freq == 0:
                self._write_images(event.images, position.step)
            case LossesLogged():
                self._write_losses(event)
            case Measured():
                self._guard(f"write to {self.backend}", self._scalars,
                            {name: float(value) for name, value in event.values.items()}, event.position.step)
            case EpochEnded():
                self._write_images(event.images, event.position.step)
            case CheckpointSaved():
                pass
            case RunEnded():
                self._write_images(event.images, event.position.step)
                self.open = False
                self._guard(f"close the {self.backend} log", self._end, event)

    # --- writing --------------------------------------------------------------------------
    def _write_losses(self, event: LossesLogged) -> None:
        values = {f"loss/{name}": float(value) for name, value in event.means.items()}
        values["throughput"] = event.throughput
        values["epoch"] = event.position.epoch_fraction
        values["learning_rate"] = event.learning_rate
        self._guard(f"write to {self.backend}", self._scalars, values, event.position.step)

    def _write_images(self, images: Callable[[], Mapping[str, Tensor]], step: int) -> None:
        if step == self._images_at:   # an epoch's last step may also be a --display_freq step
            return
        self._images_at = step
        self._guard(f"write images to {self.backend}", self._write_grids, images, step)

    def _write_grids(self, images: Callable[[], Mapping[str, Tensor]], step: int) -> None:
        batches = images()
        if batches:
            self._image("visuals", *_grid(batches), step)
        for name, sampler in self._samplers.items():
            with torch.no_grad():
                batch = sampler()
            self._image(f"samples/{name}", *_grid({name: batch[:SAMPLES_SHOWN]}), step)

    def _guard(self, what: str, fn, *args) -> None:
        try:
            fn(*args)
        except Exception as exc:  # a dashboard must never end a training run
            if not self._warned:
                self._warned = True
                warnings.warn(f"could not {what} ({type(exc).__name__}: {exc}); training continues",
                              RuntimeWarning, stacklevel=2)


def _grid(batches: Mapping[str, Tensor]) -> tuple[np.ndarray, str]:
    """Named image batches in [-1, 1] -> one H x W x 3 uint8 grid and a caption naming its rows."""
    images = visuals_to_images(dict(batches), per_visual=SAMPLES_SHOWN)
    names = list(images)
    columns = grid_columns(names)
    array = torch.from_numpy(images_to_array(list(images.values())))       # N x 3 x H x W in [0, 1]
    grid = make_grid(array, nrow=columns, padding=2)                        # 3 x H' x W'
    caption = " | ".join(" ".join(names[i:i + columns]) for i in range(0, len(names), columns))
    if not any(name.endswith(("_A", "_B")) for name in batches):
        caption = " ".join(batches)
    return (grid.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8), caption
