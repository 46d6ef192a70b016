"""The HTML report and the progression frames, kept up to date while a run trains.

Every --update_html_freq iterations and at each epoch end the current visuals are saved as that
epoch's image row and the page is rewritten; at each epoch end the fixed test images are
translated into a progression frame; at the end of the run the animation is built. A failure
here (a full disk, a domain folder that moved) warns once and never stops training.
"""
from __future__ import annotations

import warnings

import torch

from ..train.hooks import Hook, RunContext
from .html_report import save_epoch_visuals, write_report
from .progression import (MAX_TILE, build_animation, fixed_input_paths, frame_path, is_dcgan,
                          load_fixed_inputs, render_frame, save_png)
from .visuals import visuals_to_images


class ReportHook(Hook):
    def __init__(self, cfg):
        self.cfg = cfg
        self.fixed: torch.Tensor | None = None
        self._warned = False
        self._visuals_saved_at = -1   # step of the last saved image row

    def on_start(self, ctx: RunContext, progress) -> None:
        if not is_dcgan(self.cfg) and "G_A" in ctx.model.nets:
            self._guard("choose the progression's test images", self._load_fixed)
        self._guard("write the HTML report", write_report, ctx.run_dir)

    def on_step(self, ctx: RunContext, progress, losses: dict[str, float], lr: float) -> None:
        if progress.step % self.cfg.train.update_html_freq == 0:
            self._guard("save the current visuals", self._save_visuals, ctx, progress.epoch, progress.step)
            self._guard("write the HTML report", write_report, ctx.run_dir)

    def on_epoch_end(self, ctx: RunContext, progress, epoch: int) -> None:
        self._guard("save the current visuals", self._save_visuals, ctx, epoch, progress.step)
        self._guard("render a progression frame", self._render_frame, ctx, epoch)
        self._guard("write the HTML report", write_report, ctx.run_dir)

    def on_end(self, ctx: RunContext, progress, interrupted: bool) -> None:
        if progress.batch > 0:  # stopped inside an epoch: show where it got to
            self._guard("save the current visuals", self._save_visuals, ctx, progress.epoch, progress.step)
            self._guard("render a progression frame", self._render_frame, ctx, progress.epoch)
        self._guard("build the progression animation", build_animation, ctx.run_dir, self.cfg)
        self._guard("write the HTML report", write_report, ctx.run_dir)

    # --- work -------------------------------------------------------------------------------
    def _load_fixed(self) -> None:
        paths = fixed_input_paths(self.cfg)
        if paths:
            self.fixed = load_fixed_inputs(paths, min(self.cfg.data.crop_size, MAX_TILE))

    def _save_visuals(self, ctx: RunContext, epoch: int, step: int) -> None:
        if step == self._visuals_saved_at:
            return
        visuals = ctx.model.current_visuals()
        if visuals:
            save_epoch_visuals(ctx.run_dir, epoch, visuals_to_images(visuals))
            self._visuals_saved_at = step

    def _render_frame(self, ctx: RunContext, epoch: int) -> None:
        if self.fixed is None:
            return
        frame = render_frame(ctx.model.nets["G_A"], self.fixed, ctx.device)
        save_png(frame, frame_path(ctx.run_dir, epoch))

    def _guard(self, what: str, fn, *args) -> None:
        try:
            fn(*args)
        except Exception as exc:  # reporting must never end a training run
            if not self._warned:
                self._warned = True
                warnings.warn(f"could not {what} ({type(exc).__name__}: {exc}); training continues, "
                              "rebuild the report later with `cyclegan-report RUN`", RuntimeWarning, stacklevel=2)
