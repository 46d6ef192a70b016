"""What every image source gives the downloader: candidate image URLs with their provenance."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Protocol

from ..fetch import Fetcher


@dataclass(frozen=True)
class Candidate:
    """One image a provider found. Only ``url`` is required; the rest goes to the manifest."""
    url: str
    provider: str
    page_url: str | None = None
    title: str | None = None
    license: str | None = None
    license_url: str | None = None
    author: str | None = None
    credit: str | None = None


class Provider(Protocol):
    """An image source: ``search`` yields candidates lazily, page by page, until exhausted.

    It may yield more than ``limit`` (the downloader stops when enough images are kept and
    some candidates are always rejected); ``limit`` only sizes the result pages.
    Raises FetchError when a result page cannot be fetched.
    """
    name: str

    def search(self, query: str, limit: int, fetcher: Fetcher) -> Iterator[Candidate]: ...
