"""``--use_wandb``: the run's curves and images in Weights & Biases (the reference's flag).

Logs the same names as TensorBoard (see ``metric_watch``) with ``step=`` the global step, to the
project ``--wandb_project_name``, under the run's name. The wandb run id is derived from the run
folder, so ``--continue_train`` continues the same wandb run. Online or offline is the user's
choice through wandb's own ``WANDB_MODE`` (``offline`` keeps everything under
``<run_dir>/wandb/``; ``wandb sync`` uploads it later).
"""
from __future__ import annotations

import hashlib
import re
import warnings
from pathlib import Path

import numpy as np

from ..events import RunEnded, RunStarted
from .metric_watch import MetricWatcher


def wandb_run_id(run_dir: str | Path) -> str:
    """The same id for the same run folder: its name (for reading) and a hash of its full path."""
    path = str(Path(run_dir).expanduser().resolve())
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", Path(path).name)[:40] or "run"
    return f"{name}-{hashlib.sha1(path.encode()).hexdigest()[:10]}"


class WandbWatcher(MetricWatcher):
    backend = "Weights & Biases"

    def __init__(self, cfg, run_dir: str | Path):
        super().__init__(cfg, run_dir)
        self.wandb = None
        self.run = None

    def _start(self, event: RunStarted) -> None:
        try:
            import wandb
        except ImportError:
            warnings.warn('wandb is not installed; training continues without Weights & Biases '
                          '(pip install -e ".[wandb]")', RuntimeWarning, stacklevel=4)
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.run = wandb.init(project=self.cfg.train.wandb_project_name, name=self.run_dir.name,
                              config=self.cfg.to_dict(), dir=str(self.run_dir), resume="allow",
                              id=wandb_run_id(self.run_dir))
        self.wandb = wandb
        self.open = True

    def _scalars(self, values: dict[str, float], step: int) -> None:
        self.run.log(values, step=step)

    def _image(self, name: str, grid: np.ndarray, caption: str, step: int) -> None:
        self.run.log({name: self.wandb.Image(grid, caption=caption)}, step=step)

    def _end(self, event: RunEnded) -> None:
        self.run.finish(exit_code=1 if event.interrupted else 0)
