"""Write a run's report on demand: missing progression frames, the animation, the HTML page.

    from cyclegan.report.rebuild import rebuild_report
    done = rebuild_report("checkpoints/forest2abstract")
    done.page, done.animations, done.frames_rendered

Frames missing from ``web/progression/`` are rendered from the run's kept epoch weights
(``<N>_net_G_A.pth``), so a run trained before progression frames existed, or whose ``web/``
folder was deleted, gets its report back. DCGAN runs animate their ``samples/epoch_NNN.png``.
``cyclegan-report`` is this function plus argument parsing and printing.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from ..errors import UserError, WriteFailed
from ..runfolder import RunFolder
from .html_report import write_report
from .progression import build_animation, render_missing_frames


@dataclass
class ReportWritten:
    page: Path
    animations: dict[str, Path] = field(default_factory=dict)     # "gif"/"mp4" -> file
    frames_rendered: int = 0


def rebuild_report(run: str | Path | RunFolder, device: torch.device | str = "cpu", mp4: bool = True,
                   checkpoints_dir: str | Path = "checkpoints",
                   progress: Callable[[list], object] = lambda items: items) -> ReportWritten:
    """(Re)write the report of ``run`` (a run folder, or a NAME under ``checkpoints_dir``).

    When frames cannot be rendered (say the domain folder moved), a warning says why and the
    frames that exist are animated.
    """
    run = run if isinstance(run, RunFolder) else RunFolder.locate(run, checkpoints_dir)
    cfg = run.read_config()
    rendered = 0
    try:
        rendered = render_missing_frames(run.path, cfg, torch.device(device), progress=progress)
    except WriteFailed:       # a full disk: writing the animation would fail the same way
        raise
    except UserError as exc:  # e.g. the domain folder moved: animate what exists
        warnings.warn(f"no new progression frames ({exc})", stacklevel=2)
    animations = build_animation(run.path, cfg, mp4=mp4)
    return ReportWritten(write_report(run.path), animations, rendered)
