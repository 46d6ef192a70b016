"""``cyclegan-datasets``: list / download / info / clean image datasets."""
from __future__ import annotations

import argparse
import sys

from ..data.domains import datasets_root
from ..datasets_tools import (STANDARD_DATASETS, CleanOptions, DownloadOptions, clean_domain, fetch_standard_dataset,
                              format_info, survey)
from ..datasets_tools.catalog import BASE_URL_ENV, DEFAULT_BASE_URL, NOT_DOWNLOADABLE
from ..datasets_tools.clean import REMOVED_DIR
from ..datasets_tools.folders import resolve_folder
from ..datasets_tools.standard import read_records
from ..scrape.hygiene import DEFAULT_DEDUPE_DISTANCE, DEFAULT_MIN_SIZE
from .common import Parser, add_option, run_cli

PROG = "cyclegan-datasets"


def build_parser() -> Parser:
    p = Parser(prog=PROG, description="The reference CycleGAN's standard datasets, and checks for any dataset folder.")
    add_option(p, "--datasets-dir", help="where datasets live (default $CYCLEGAN_DATASETS or ./datasets)")
    add_option(p, "--no-progress", action="store_true", help="no progress bars")
    # The same two options after the command name too (SUPPRESS keeps the top-level value when absent).
    shared = Parser(add_help=False)
    add_option(shared, "--datasets-dir", default=argparse.SUPPRESS, help="where datasets live")
    add_option(shared, "--no-progress", action="store_true", default=argparse.SUPPRESS, help="no progress bars")
    commands = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    commands.required = True

    commands.add_parser("list", parents=[shared], help="the standard dataset names (and which are here)")

    download = commands.add_parser("download", parents=[shared],
                                   help="download NAME into DATASETS/NAME/ (trainA trainB testA testB)")
    download.add_argument("name", help="a standard dataset name (see `cyclegan-datasets list`)")
    add_option(download, "--base-url", metavar="URL",
               help=f"where NAME.zip is fetched from (default ${BASE_URL_ENV} or {DEFAULT_BASE_URL})")
    add_option(download, "--force", action="store_true", help="replace DATASETS/NAME if it exists")
    add_option(download, "--keep-zip", action="store_true", help="keep DATASETS/.downloads/NAME.zip after extraction")
    add_option(download, "--accept-new", action="store_true",
               help="accept (and record) a zip whose size/sha256 differ from the first download's")
    add_option(download, "--timeout", type=float, default=30.0, help="seconds a connection may stall (default 30)")
    add_option(download, "--retries", type=int, default=3, help="automatic resumes after a dropped transfer (default 3)")

    info = commands.add_parser("info", parents=[shared], help="image counts per split, size range, duplicates")
    info.add_argument("name", help="a dataset name under DATASETS, or a folder")
    add_option(info, "--dedupe-distance", type=int, default=DEFAULT_DEDUPE_DISTANCE,
               help=f"perceptual-hash bits for near duplicates (default {DEFAULT_DEDUPE_DISTANCE})")

    clean = commands.add_parser("clean", parents=[shared], help="move corrupt/small/duplicate images aside, convert the rest to RGB")
    clean.add_argument("name", help="a dataset name under DATASETS, or a folder")
    add_option(clean, "--min-size", type=int, default=DEFAULT_MIN_SIZE,
               help=f"short side below which an image is moved aside (default {DEFAULT_MIN_SIZE})")
    add_option(clean, "--max-side", type=int, help="downscale images whose long side is larger")
    add_option(clean, "--dedupe-distance", type=int, default=DEFAULT_DEDUPE_DISTANCE,
               help=f"perceptual-hash bits within which images are duplicates (default {DEFAULT_DEDUPE_DISTANCE})")
    add_option(clean, "--format", dest="image_format", choices=["auto", "jpg", "png"], default="auto",
               help="format of converted images (default auto)")
    add_option(clean, "--dry-run", action="store_true", help="only print what would change")
    add_option(clean, "--verbose", "-v", action="store_true", help="print every change")
    return p


def _list(args) -> int:
    root = datasets_root(args.datasets_dir)
    records = read_records(root) if root.is_dir() else {}
    for name, what in STANDARD_DATASETS.items():
        here = "downloaded" if (root / name).is_dir() else ("not downloadable" if name in NOT_DOWNLOADABLE else "")
        size = f"{records[name]['size'] / 2**20:.0f} MiB" if name in records else ""
        print(f"{name:<24} {what:<68} {here:<16} {size}".rstrip())
    return 0


def _download(args) -> int:
    root = datasets_root(args.datasets_dir)
    opts = DownloadOptions(args.name, root, base_url=args.base_url, force=args.force, keep_zip=args.keep_zip,
                           accept_new=args.accept_new, progress=not args.no_progress, timeout=args.timeout,
                           retries=args.retries)
    try:
        target = fetch_standard_dataset(opts)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; run the same command again to resume the download", file=sys.stderr)
        return 130
    counts = ", ".join(f"{d.name} {sum(1 for f in d.iterdir() if f.is_file())}"
                       for d in sorted(target.iterdir()) if d.is_dir())
    print(f"{PROG}: {args.name} -> {target} ({counts}); train with: cyclegan-train --dataroot {target}")
    return 0


def _info(args) -> int:
    root = resolve_folder(args.name, args.datasets_dir)
    print(format_info(survey(root, args.dedupe_distance, progress=not args.no_progress)))
    return 0


def _clean(args) -> int:
    root = resolve_folder(args.name, args.datasets_dir)
    opts = CleanOptions(root, min_size=args.min_size, max_side=args.max_side, dedupe_distance=args.dedupe_distance,
                        image_format=args.image_format, dry_run=args.dry_run, progress=not args.no_progress)
    report = clean_domain(opts)
    if args.verbose or args.dry_run:
        for action in report.actions:
            print(f"  {action}")
    where = "would be" if args.dry_run else "were"
    print(f"{PROG}: clean {root.name}: {report.line()}"
          + (f"; moved files {where} put in {root / REMOVED_DIR}" if sum(report.moved.values()) or report.converted else ""))
    return 130 if report.interrupted else 0


def _main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return {"list": _list, "download": _download, "info": _info, "clean": _clean}[args.command](args)


def main(argv=None) -> int:
    return run_cli(PROG, lambda: _main(argv))


if __name__ == "__main__":
    sys.exit(main())
