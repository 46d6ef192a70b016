"""``scrape``: search a provider, download concurrently, keep clean unique images in a domain."""
from __future__ import annotations

import itertools
import sys
import threading
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from cyclegan.progress import progress_bar
from ..data.domains import datasets_root
from ..errors import UserError
from .fetch import Fetcher, FetchError, FetchSettings
from .hygiene import (DEFAULT_DEDUPE_DISTANCE, DEFAULT_MAX_PIXELS, DEFAULT_MIN_SIZE, CleanedImage,
                      Rejected, clean_bytes, split_for)
from .providers import Candidate, Provider, make_provider
from .store import DomainStore

# Media types a server may honestly send an image as; the bytes are sniffed in any case.
_IMAGE_TYPES_PREFIX = "image/"
_NEUTRAL_TYPES = {"", "application/octet-stream", "binary/octet-stream"}
OUTCOMES = ("kept", "duplicate", "too_small", "corrupt", "failed")
MAX_LIMIT = 10_000_000   # images per run: far above any domain, low enough to mean a typo
MAX_WORKERS = 256        # download threads


@dataclass
class ScrapeOptions:
    name: str
    query: str = ""
    provider: str = "bing"
    limit: int = 100
    datasets_dir: str | None = None
    base_url: str | None = None
    urls_file: str | None = None
    min_size: int = DEFAULT_MIN_SIZE
    max_side: int | None = None
    dedupe_distance: int = DEFAULT_DEDUPE_DISTANCE
    test_fraction: float = 0.1
    image_format: str = "auto"
    max_pixels: int = DEFAULT_MAX_PIXELS
    workers: int = 8
    thumb_width: int = 1024
    chromedriver: str | None = None
    fetch: FetchSettings = field(default_factory=FetchSettings)
    progress: bool = True
    verbose: bool = False

    def validate(self) -> None:
        if not self.name or "/" in self.name or self.name.startswith(".") or "\\" in self.name:
            raise UserError(f"domain name {self.name!r}: use a plain folder name like 'forest'")
        if self.provider != "urls" and not self.query:
            raise UserError(f"--provider {self.provider} needs --query (what to search for)")
        if not 1 <= self.limit <= MAX_LIMIT:
            raise UserError(f"--limit {self.limit}: must be between 1 and {MAX_LIMIT}")
        if not 0.0 <= self.test_fraction < 1.0:  # also refuses nan
            raise UserError(f"--test-fraction {self.test_fraction}: must be in [0, 1)")
        if self.min_size < 1:
            raise UserError(f"--min-size {self.min_size}: must be at least 1")
        if self.max_side is not None and self.max_side < self.min_size:
            raise UserError(f"--max-side {self.max_side} is below --min-size {self.min_size}: nothing could be kept")
        if not 0 <= self.dedupe_distance <= 64:
            raise UserError(f"--dedupe-distance {self.dedupe_distance}: must be between 0 (only identical "
                            "perceptual hashes) and 64 (the hash's bits)")
        if not 1 <= self.workers <= MAX_WORKERS:
            raise UserError(f"--workers {self.workers}: must be between 1 and {MAX_WORKERS}")
        if self.max_pixels < 1:
            raise UserError(f"--max-pixels {self.max_pixels}: must be at least 1")
        if self.thumb_width < 0:
            raise UserError(f"--commons-width {self.thumb_width}: must be 0 (original files) or a width in pixels")
        problems = self.fetch.problems()
        if problems:
            raise UserError(problems[0])

    @property
    def domain_dir(self) -> Path:
        return datasets_root(self.datasets_dir) / self.name


@dataclass
class Summary:
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    reasons: list[tuple[str, str, str]] = field(default_factory=list)  # (outcome, url, detail)
    interrupted: bool = False
    search_error: str | None = None

    def count(self, outcome: str, url: str, detail: str = "") -> None:
        self.counts[outcome] += 1
        if outcome != "kept":
            self.reasons.append((outcome, url, detail))

    def line(self) -> str:
        c = self.counts
        text = (f"kept {c['kept']}, duplicate {c['duplicate']}, too small {c['too_small']}, "
                f"corrupt {c['corrupt']}, failed {c['failed']}")
        return text + (" (interrupted)" if self.interrupted else "")


@dataclass
class _Outcome:
    candidate: Candidate
    kind: str                       # 'ok' or one of OUTCOMES
    detail: str = ""
    image: CleanedImage | None = None


def _download_and_clean(candidate: Candidate, fetcher: Fetcher, opts: ScrapeOptions) -> _Outcome:
    """Worker: fetch one candidate and run hygiene on it. Never raises for a bad source."""
    try:
        reply = fetcher.get(candidate.url, accept="image/*")
    except FetchError as exc:
        return _Outcome(candidate, "failed", exc.detail)
    if not (reply.content_type.startswith(_IMAGE_TYPES_PREFIX) or reply.content_type in _NEUTRAL_TYPES):
        return _Outcome(candidate, "corrupt", f"served as {reply.content_type}, not an image")
    try:
        image = clean_bytes(reply.body, min_size=opts.min_size, max_side=opts.max_side,
                            max_pixels=opts.max_pixels, fmt_choice=opts.image_format)
    except Rejected as exc:
        return _Outcome(candidate, exc.kind, exc.detail)
    except Exception as exc:  # hostile bytes can trip any decoder bug; one file must not end the run
        return _Outcome(candidate, "corrupt", f"decoder failed ({type(exc).__name__}: {exc})")
    return _Outcome(candidate, "ok", image=image)


def _provenance(candidate: Candidate, query: str) -> dict:
    return {"url": candidate.url, "page_url": candidate.page_url, "provider": candidate.provider,
            "query": query or None, "title": candidate.title, "license": candidate.license,
            "license_url": candidate.license_url, "author": candidate.author, "credit": candidate.credit}


def scrape(opts: ScrapeOptions, provider: Provider | None = None) -> Summary:
    """Add up to ``opts.limit`` new clean, unique images to the domain; Ctrl-C stops cleanly.

    On KeyboardInterrupt the summary comes back with ``interrupted`` set (every file already
    written has its manifest line); the caller decides the exit code.
    """
    opts.validate()
    provider = provider or make_provider(opts.provider, base_url=opts.base_url, urls_file=opts.urls_file,
                                         thumb_width=opts.thumb_width, chromedriver=opts.chromedriver)
    store = DomainStore(opts.domain_dir, opts.dedupe_distance)
    summary = Summary()
    stop = threading.Event()
    fetcher = Fetcher(opts.fetch, stop)
    candidates = provider.search(opts.query, opts.limit, fetcher)
    try:  # the first result page decides whether the source works at all: fail before any output
        first = next(candidates)
    except StopIteration:
        return summary
    except FetchError as exc:
        raise UserError(f"--provider {opts.provider}: cannot fetch search results ({exc}); "
                        "check the network or --base-url") from None
    candidates = itertools.chain([first], candidates)
    seen_urls: set[str] = set()
    bar = progress_bar(total=opts.limit, desc=opts.name, unit="img", disable=not opts.progress, file=sys.stderr)
    pool = ThreadPoolExecutor(max_workers=opts.workers, thread_name_prefix="scrape")
    pending: set[Future] = set()
    try:
        exhausted = False
        while True:
            # Keep the pool busy, but never start more downloads than could still be needed.
            while not exhausted and len(pending) < 2 * opts.workers \
                    and summary.counts["kept"] + len(pending) < opts.limit + opts.workers:
                try:
                    candidate = next(candidates)
                except StopIteration:
                    exhausted = True
                    break
                except FetchError as exc:  # a later result page failed: keep what we have
                    summary.search_error = str(exc)
                    exhausted = True
                    break
                if candidate.url in seen_urls or candidate.url in store.known.urls:
                    summary.count("duplicate", candidate.url, "URL already fetched")
                    continue
                seen_urls.add(candidate.url)
                pending.add(pool.submit(_download_and_clean, candidate, fetcher, opts))
            if not pending:
                break
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                _commit(future.result(), store, opts, summary, bar)
            if summary.counts["kept"] >= opts.limit:
                break
    except KeyboardInterrupt:
        summary.interrupted = True
    finally:
        fetcher.abort()  # cuts downloads in flight: Ctrl-C does not wait for a slow host
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
        bar.close()
    return summary


def _commit(outcome: _Outcome, store: DomainStore, opts: ScrapeOptions, summary: Summary, bar) -> None:
    """Main thread: dedupe against everything kept so far, then write file + manifest line."""
    url = outcome.candidate.url
    if summary.counts["kept"] >= opts.limit:
        return  # finished while this one was in flight
    if outcome.kind == "ok":
        duplicate = store.duplicate_of(outcome.image)
        if duplicate:
            outcome.kind, outcome.detail = "duplicate", duplicate
        else:
            split = split_for(outcome.image.source_sha256, opts.test_fraction)
            try:
                store.add(outcome.image, split, _provenance(outcome.candidate, opts.query))
                outcome.kind = "kept"
                bar.update(1)
            except FileExistsError as exc:
                outcome.kind, outcome.detail = "duplicate", f"{exc} already exists"
    summary.count(outcome.kind, url, outcome.detail)
    if outcome.kind != "kept" and opts.verbose:
        tqdm.write(f"{outcome.kind}: {url}: {outcome.detail}", file=sys.stderr)
    bar.set_postfix_str(summary.line(), refresh=False)
