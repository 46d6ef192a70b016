"""``cyclegan-report RUN``: (re)write a run's HTML report and progression animation on demand
(``cyclegan.report.rebuild.rebuild_report``, which renders missing frames from kept weights)."""
from __future__ import annotations

import sys


from cyclegan.progress import progress_bar
from ..device import resolve_device
from ..report.rebuild import rebuild_report
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


def _run(args) -> int:
    done = rebuild_report(args.run, resolve_device(args.device), mp4=not args.no_mp4,
                          checkpoints_dir=args.checkpoints_dir,
                          progress=lambda items: progress_bar(items, desc="frames", unit="frame", disable=len(items) < 3))
    if done.frames_rendered:
        print(f"{PROG}: rendered {done.frames_rendered} progression frame(s) from the run's checkpoints",
              file=sys.stderr)
    print(f"{PROG}: wrote {done.page}")
    for kind in ("gif", "mp4"):
        if kind in done.animations:
            print(f"{PROG}: wrote {done.animations[kind]}")
    if "gif" not in done.animations:
        print(f"{PROG}: no progression frames yet (they are written at each epoch end)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
