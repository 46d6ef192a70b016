"""Watching a run: the live visdom dashboard, the HTML report and the progression animation.

All of it attaches to training as hooks (``cyclegan.train.hooks``): it reads the step's loss
dict, the loss log and the model's current visuals, and never changes training.
"""
from __future__ import annotations

from ..config import Config
from ..errors import UserError

DISPLAY_CHOICES = ("auto", "visdom", "none")


def report_hooks(cfg: Config) -> list:
    """The HTML report always; the visdom dashboard unless ``--display none``."""
    from .report_hook import ReportHook
    from .visdom_hook import VisdomHook

    if cfg.train.display not in DISPLAY_CHOICES:
        raise UserError(f"--display {cfg.train.display}: choose one of {', '.join(DISPLAY_CHOICES)}")
    for option in ("display_freq", "update_html_freq", "display_port"):
        if getattr(cfg.train, option) < 1:
            raise UserError(f"--{option} must be at least 1")
    hooks = [ReportHook(cfg)]
    if cfg.train.display != "none":
        hooks.append(VisdomHook(cfg))
    return hooks


__all__ = ["report_hooks", "DISPLAY_CHOICES"]
