"""``cyclegan-report RUN``: (re)write a run's HTML report and progression animation on demand.

Frames missing from ``web/progression/`` are rendered from the run's kept epoch checkpoints
(``<N>_net_G_A.pth``), so a run trained before this feature existed, or whose ``web/`` folder
was deleted, gets its report back. DCGAN runs animate their ``samples/epoch_NNN.png``.
"""
from __future__ import annotations

import sys
import warnings
from pathlib import Path

from ..errors import UserError
from .common import Parser, add_option, run_cli

PROG = "cyclegan-report"


def build_parser() -> Parser:
    p = Parser(prog=PROG, description="Write a run's HTML report (web/index.html) and its progression "
               "animation (web/progression.gif, and .mp4 when an ffmpeg encoder is available).")
    p.add_argument("run", metavar="RUN", help="a run folder (checkpoints/NAME), or a run NAME under --checkpoints_dir")
    add_option(p, "--checkpoints_dir", default="checkpoints", help="where run names resolve (default ./checkpoints)")
    add_option(p, "--device", default="auto", help="device that renders missing frames (default auto)")
    add_option(p, "--no-mp4", action="store_true", help="write only the GIF")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_cli(PROG, lambda: _run(args))


def resolve_run(run: str, checkpoints_dir: str) -> Path:
    from ..checkpoint import CONFIG_FILE

    candidates = [Path(run).expanduser(), Path(checkpoints_dir).expanduser() / run]
    for candidate in candidates:
        if (candidate / CONFIG_FILE).is_file():
            return candidate
    raise UserError(f"{run} is not a training run (no {CONFIG_FILE} in {candidates[0]} or {candidates[1]}); "
                    "pass a run folder such as checkpoints/NAME")


def _run(args) -> int:
    from tqdm import tqdm

    from ..checkpoint import CONFIG_FILE
    from ..config import Config
    from ..device import resolve_device
    from ..report.html_report import write_report
    from ..report.progression import build_animation, render_missing_frames

    run_dir = resolve_run(args.run, args.checkpoints_dir)
    cfg = Config.load_json(run_dir / CONFIG_FILE)
    try:
        rendered = render_missing_frames(run_dir, cfg, resolve_device(args.device),
                                         progress=lambda items: tqdm(items, desc="frames", unit="frame",
                                                                     disable=len(items) < 3))
        if rendered:
            print(f"{PROG}: rendered {rendered} progression frame(s) from the run's checkpoints", file=sys.stderr)
    except UserError as exc:  # e.g. the domain folder moved: animate what exists
        warnings.warn(f"no new progression frames ({exc})", stacklevel=1)
    written = build_animation(run_dir, cfg, mp4=not args.no_mp4)
    page = write_report(run_dir)
    print(f"{PROG}: wrote {page}")
    for kind in ("gif", "mp4"):
        if kind in written:
            print(f"{PROG}: wrote {written[kind]}")
    if "gif" not in written:
        print(f"{PROG}: no progression frames yet (they are written at each epoch end)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
