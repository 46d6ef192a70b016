#!/usr/bin/env python
"""Build the two domains of our flagship example: forest photos (A) and abstract paintings (B).

    python scripts/build_flagship_domains.py                 # 1000 forest photos, 1000 paintings
    python scripts/build_flagship_domains.py --limit 300     # smaller
    cyclegan-train --domainA forest --domainB abstract       # then train on them

Forest photos come from Bing image search (many real photos; no license data, so check
before you publish results), abstract paintings from Wikimedia Commons (license and author
of every file in the manifest). Each domain is filled from a list of queries, in order,
until it holds --limit images; re-running tops the domains up without duplicates. Images
are downscaled to at most 512 px (CycleGAN trains on 256 px crops) and must be at least
256 px on the short side.

Provider endpoints can be overridden (--bing-url, --commons-url), e.g. to use a mirror or a
local test server.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

from cyclegan.cli.common import run_cli
from cyclegan.errors import UserError
from cyclegan.scrape import FetchSettings, ScrapeOptions, read_manifest, scrape
from cyclegan.scrape.fetch import DEFAULT_USER_AGENT

PROG = "build_flagship_domains"


@dataclass(frozen=True)
class Source:
    provider: str
    query: str


# Queries in the order they are tried. Photos of forests from the inside and from above;
# paintings from the curated Commons category first, then a broader file search.
DOMAINS: dict[str, tuple[Source, ...]] = {
    "forest": (
        Source("bing", "forest photography"),
        Source("bing", "forest trees landscape photo"),
        Source("bing", "woodland path photo"),
        Source("bing", "pine forest photo"),
        Source("commons", "Category:Forests"),
    ),
    "abstract": (
        Source("commons", "Category:Abstract paintings"),
        Source("commons", "abstract painting"),
        Source("commons", "Category:Abstract expressionism"),
    ),
}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--limit", type=int, default=1000, help="images per domain (default 1000)")
    p.add_argument("--datasets-dir", help="where domains live (default $CYCLEGAN_DATASETS or ./datasets)")
    p.add_argument("--only", choices=sorted(DOMAINS), help="build just this domain")
    p.add_argument("--bing-url", help="Bing endpoint (default https://www.bing.com)")
    p.add_argument("--commons-url", help="Wikimedia Commons endpoint (default https://commons.wikimedia.org)")
    p.add_argument("--min-size", type=int, default=256, help="short side below which images are dropped (default 256)")
    p.add_argument("--max-side", type=int, default=512, help="downscale larger images to this long side (default 512)")
    p.add_argument("--user-agent", default=DEFAULT_USER_AGENT,
                   help="User-Agent; Wikimedia asks for a contact: 'name/1.0 (you@example.org)'")
    p.add_argument("--host-interval", type=float, default=0.5, help="seconds between requests to one host (default 0.5)")
    p.add_argument("--no-progress", action="store_true")
    return p


def held(opts: ScrapeOptions) -> int:
    return len(read_manifest(opts.domain_dir / "manifest.jsonl"))


def build_domain(name: str, sources: tuple[Source, ...], args) -> int:
    """Fill DATASETS/NAME from ``sources`` in order until it holds --limit images."""
    fetch = FetchSettings(user_agent=args.user_agent, host_interval=args.host_interval)
    for source in sources:
        base = args.bing_url if source.provider == "bing" else args.commons_url
        opts = ScrapeOptions(name, query=source.query, provider=source.provider, base_url=base,
                             datasets_dir=args.datasets_dir, min_size=args.min_size, max_side=args.max_side,
                             limit=1, fetch=fetch, progress=not args.no_progress)
        missing = args.limit - held(opts)
        if missing <= 0:
            break
        opts.limit = missing
        try:
            summary = scrape(opts)
        except UserError as exc:  # one source down: try the next one
            print(f"{PROG}: {name}: {source.provider} {source.query!r} skipped: {exc}", file=sys.stderr)
            continue
        print(f"{PROG}: {name}: {source.provider} {source.query!r}: {summary.line()}")
        if summary.interrupted:
            raise KeyboardInterrupt
    total = held(opts)
    print(f"{PROG}: {name}: {total} images in {opts.domain_dir}")
    return total


def main(argv=None) -> int:
    def run() -> int:
        args = build_parser().parse_args(argv)
        if args.limit < 1:
            raise UserError("--limit must be at least 1")
        names = [args.only] if args.only else list(DOMAINS)
        try:
            totals = {name: build_domain(name, DOMAINS[name], args) for name in names}
        except KeyboardInterrupt:
            print(f"{PROG}: interrupted; run again to continue where it stopped", file=sys.stderr)
            return 130
        short = [n for n, total in totals.items() if total < args.limit]
        if short:
            print(f"{PROG}: warning: {', '.join(short)} below --limit {args.limit}; the sources ran out",
                  file=sys.stderr)
        return 0
    return run_cli(PROG, run)


if __name__ == "__main__":
    sys.exit(main())
