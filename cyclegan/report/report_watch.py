"""The HTML report and the progression frames, kept up to date while a run trains.

Every --update_html_freq iterations and at each epoch end the step's images are saved as that
epoch's image row and the page is rewritten; at each epoch end the fixed test images are
translated into a progression frame (models that translate); at the end of the run the
animation is built. A failure here (a full disk, a domain folder that moved) warns once and
never stops training.
"""
from __future__ import annotations

import warnings

import torch

from ..config import Config
from ..events import EpochEnded, RunEnded, RunStarted, StepEnded
from .html_report import save_epoch_visuals, write_report
from .progression import MAX_TILE, build_animation, fixed_input_paths, frame_path, load_fixed_inputs, render_frame, save_png
from .visuals import visuals_to_images


class ReportWatcher:
    def __init__(self, cfg: Config, translator: str | None = None):
        """``translator``: the network whose A->B translations make the progression (None: no frames)."""
        self.cfg = cfg
        self.translator = translator
        self.fixed: torch.Tensor | None = None
        self.started: RunStarted | None = None
        self._warned = False
        self._visuals_saved_at = -1   # step of the last saved image row

    def __call__(self, event) -> None:
        match event:
            case RunStarted():
                self.started, self.cfg = event, event.config
                if self.translator is not None and self.translator in event.networks:
                    self._guard("choose the progression's test images", self._load_fixed)
                self._guard("write the HTML report", write_report, event.run_dir)
            case StepEnded(position=position) if position.step % self.cfg.train.update_html_freq == 0:
                self._guard("save the current visuals", self._save_visuals, event.images, position.epoch, position.step)
                self._guard("write the HTML report", write_report, self.run_dir)
            case EpochEnded():
                self._guard("save the current visuals", self._save_visuals, event.images, event.epoch,
                            event.position.step)
                self._guard("render a progression frame", self._render_frame, event.epoch)
                self._guard("write the HTML report", write_report, self.run_dir)
            case RunEnded(position=position):
                if position.batch > 0:  # stopped inside an epoch: show where it got to
                    self._guard("save the current visuals", self._save_visuals, event.images, position.epoch,
                                position.step)
                    self._guard("render a progression frame", self._render_frame, position.epoch)
                self._guard("build the progression animation", build_animation, self.run_dir, self.cfg)
                self._guard("write the HTML report", write_report, self.run_dir)

    @property
    def run_dir(self):
        return self.started.run_dir

    # --- work -------------------------------------------------------------------------------
    def _load_fixed(self) -> None:
        paths = fixed_input_paths(self.cfg)
        if paths:
            self.fixed = load_fixed_inputs(paths, min(self.cfg.data.crop_size, MAX_TILE))

    def _save_visuals(self, images, epoch: int, step: int) -> None:
        if step == self._visuals_saved_at:
            return
        visuals = images()
        if visuals:
            save_epoch_visuals(self.run_dir, epoch, visuals_to_images(visuals))
            self._visuals_saved_at = step

    def _render_frame(self, epoch: int) -> None:
        if self.fixed is None:
            return
        frame = render_frame(self.started.networks[self.translator], self.fixed, self.started.device)
        save_png(frame, frame_path(self.run_dir, epoch))

    def _guard(self, what: str, fn, *args) -> None:
        try:
            fn(*args)
        except Exception as exc:  # reporting must never end a training run
            if not self._warned:
                self._warned = True
                warnings.warn(f"could not {what} ({type(exc).__name__}: {exc}); training continues, "
                              "rebuild the report later with `cyclegan-report RUN`", RuntimeWarning, stacklevel=2)
