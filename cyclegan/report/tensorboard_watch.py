"""``--display tensorboard``: the run's curves and images in TensorBoard.

Writes ``<run_dir>/tensorboard/`` (see ``metric_watch`` for the names): ``tensorboard --logdir
checkpoints/<name>/tensorboard``. A resumed run appends to the same folder; points the earlier
run logged after the step it resumes from are purged, so no step appears twice.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from ..events import RunEnded, RunStarted
from .metric_watch import MetricWatcher

LOG_DIR = "tensorboard"


class TensorBoardWatcher(MetricWatcher):
    backend = "TensorBoard"

    def __init__(self, cfg, run_dir: str | Path):
        super().__init__(cfg, run_dir)
        self.writer = None

    @property
    def log_dir(self) -> Path:
        return self.run_dir / LOG_DIR

    def _start(self, event: RunStarted) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            warnings.warn('TensorBoard is not installed; training continues without it '
                          '(pip install -e ".[tensorboard]")', RuntimeWarning, stacklevel=4)
            return
        # Steps after the one this run starts from were logged by a run that did not save them:
        # purge them, so the curve continues from the checkpoint instead of doubling back.
        self.writer = SummaryWriter(str(self.log_dir), purge_step=event.position.step + 1)
        self.open = True

    def _scalars(self, values: dict[str, float], step: int) -> None:
        for name, value in values.items():
            self.writer.add_scalar(name, value, global_step=step)

    def _image(self, name: str, grid: np.ndarray, caption: str, step: int) -> None:
        self.writer.add_image(name, grid, global_step=step, dataformats="HWC")

    def _end(self, event: RunEnded) -> None:
        self.writer.flush()
        self.writer.close()
