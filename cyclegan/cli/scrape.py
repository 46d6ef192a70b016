"""``cyclegan-scrape NAME --query ...``: build or grow the image domain datasets/NAME/."""
from __future__ import annotations

import argparse
import sys

from ..scrape import FetchSettings, ScrapeOptions, scrape
from ..scrape.fetch import DEFAULT_MAX_BYTES, DEFAULT_USER_AGENT
from ..scrape.hygiene import DEFAULT_DEDUPE_DISTANCE, DEFAULT_MAX_PIXELS, DEFAULT_MIN_SIZE
from ..scrape.providers import PROVIDERS
from .common import Parser, add_option, run_cli

PROG = "cyclegan-scrape"

DESCRIPTION = """\
Collect images for a domain into DATASETS/NAME/train/ and test/, with one line per kept
image in DATASETS/NAME/manifest.jsonl (file, source URL, page, provider, license, author,
sha256, perceptual hash, size, time). Re-running adds new images without duplicating or
touching existing files; Ctrl-C stops cleanly (exit 130).

providers:
  bing     Bing image search result pages (no license information: check before publishing)
  commons  Wikimedia Commons API, with license and author per file; the right choice for
           artworks. --query "Category:Abstract paintings" lists a category, anything else
           searches file pages.
  urls     your own list: --urls FILE with one image URL per line
  google   EXPERIMENTAL: through google-images-download>=3 (not installed by default), which
           drives headless Chrome (~20 s per query, https image URLs only); version 2.x returns
           nothing since Google changed its pages in 2020, and 3.x could not be verified
           against today's live pages. Needs Chromium and chromedriver (--chromedriver).
"""

EPILOG = "example: cyclegan-scrape forest --query forest --limit 500 --provider bing"


def build_parser() -> Parser:
    p = Parser(prog=PROG, description=DESCRIPTION, epilog=EPILOG,
               formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", help="domain name: images go to DATASETS/NAME/")
    source = p.add_argument_group("source")
    add_option(source, "--query", "-q", default="", help="what to search for")
    add_option(source, "--provider", "-p", choices=PROVIDERS, default="bing", help="image source (default bing)")
    add_option(source, "--limit", "-n", type=int, default=100, help="new images to keep (default 100)")
    add_option(source, "--urls", dest="urls_file", metavar="FILE", help="for --provider urls: file of image URLs")
    add_option(source, "--base-url", metavar="URL",
               help="provider endpoint (default https://www.bing.com / https://commons.wikimedia.org)")
    add_option(source, "--commons-width", dest="thumb_width", type=int, default=1024, metavar="PX",
               help="commons: download thumbnails this wide (default 1024; 0 = original files)")
    add_option(source, "--chromedriver", metavar="PATH", help="google: path of chromedriver")
    out = p.add_argument_group("output and hygiene")
    add_option(out, "--datasets-dir", help="where domains live (default $CYCLEGAN_DATASETS or ./datasets)")
    add_option(out, "--min-size", type=int, default=DEFAULT_MIN_SIZE,
               help=f"drop images whose short side is below this (default {DEFAULT_MIN_SIZE} px)")
    add_option(out, "--max-side", type=int, help="downscale so the long side is at most this (default: keep)")
    add_option(out, "--dedupe-distance", type=int, default=DEFAULT_DEDUPE_DISTANCE,
               help=f"perceptual-hash bits within which images count as duplicates (default {DEFAULT_DEDUPE_DISTANCE} of 64)")
    add_option(out, "--test-fraction", type=float, default=0.1,
               help="share of images in test/, decided by content hash (default 0.1)")
    add_option(out, "--format", dest="image_format", choices=["auto", "jpg", "png"], default="auto",
               help="saved format (default auto: PNG for lossless sources, JPEG q95 for photos)")
    add_option(out, "--max-pixels", type=int, default=DEFAULT_MAX_PIXELS,
               help=f"refuse images with more pixels (decompression-bomb guard, default {DEFAULT_MAX_PIXELS})")
    net = p.add_argument_group("downloading")
    add_option(net, "--workers", type=int, default=8, help="parallel downloads (default 8)")
    add_option(net, "--host-interval", type=float, default=0.5,
               help="seconds between requests to one host (default 0.5)")
    add_option(net, "--timeout", type=float, default=15.0, help="seconds a connection may stall (default 15)")
    add_option(net, "--max-time", type=float, default=60.0, help="seconds one download may take in all, retries included (default 60)")
    add_option(net, "--retries", type=int, default=2, help="retries after a transient failure (default 2)")
    add_option(net, "--backoff", type=float, default=1.0, help="first retry delay in seconds, doubling (default 1)")
    add_option(net, "--max-bytes", type=int, default=DEFAULT_MAX_BYTES, help="size cap per file in bytes (default 30 MiB)")
    add_option(net, "--user-agent", default=DEFAULT_USER_AGENT,
               help="User-Agent header; Wikimedia asks for 'tool/version (contact URL or email)'")
    add_option(p, "--no-progress", action="store_true", help="no progress bar")
    add_option(p, "--verbose", "-v", action="store_true", help="print every rejected URL and why")
    return p


def options_from_args(args) -> ScrapeOptions:
    fetch = FetchSettings(timeout=args.timeout, max_time=args.max_time, retries=args.retries,
                          backoff=args.backoff, host_interval=args.host_interval,
                          max_bytes=args.max_bytes, user_agent=args.user_agent)
    return ScrapeOptions(
        name=args.name, query=args.query, provider=args.provider, limit=args.limit,
        datasets_dir=args.datasets_dir, base_url=args.base_url, urls_file=args.urls_file,
        min_size=args.min_size, max_side=args.max_side, dedupe_distance=args.dedupe_distance,
        test_fraction=args.test_fraction, image_format=args.image_format, max_pixels=args.max_pixels,
        workers=args.workers, thumb_width=args.thumb_width, chromedriver=args.chromedriver,
        fetch=fetch, progress=not args.no_progress, verbose=args.verbose)


def _main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    opts = options_from_args(args)
    try:
        summary = scrape(opts)
    except KeyboardInterrupt:  # before the first result arrived; nothing was written
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    where = opts.domain_dir
    print(f"{PROG}: {opts.name}: {summary.line()} -> {where}/train, {where}/test, {where}/manifest.jsonl")
    if summary.search_error:
        print(f"{PROG}: warning: search stopped early: {summary.search_error}", file=sys.stderr)
    if summary.interrupted:
        return 130
    if summary.counts["kept"] < opts.limit:
        print(f"{PROG}: note: kept {summary.counts['kept']} of the {opts.limit} asked for; the source ran out "
              "(try another --query or --provider)", file=sys.stderr)
    return 0


def main(argv=None) -> int:
    return run_cli(PROG, lambda: _main(argv))


if __name__ == "__main__":
    sys.exit(main())
