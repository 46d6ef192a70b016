"""Bing image search, read from its result pages (``/images/async?q=...&first=N``).

Each result is an ``<a class="iusc" m="{...}">`` whose ``m`` attribute is HTML-escaped JSON
with ``murl`` (the image), ``purl`` (the page it is on), ``turl`` (Bing's thumbnail) and
``t`` (title). Every image format is kept (not only .jpg): the downloader sniffs the bytes.
Bing gives no license or author, so those stay empty in the manifest.
"""
from __future__ import annotations

import json
import urllib.parse
from html.parser import HTMLParser
from typing import Iterator

from ..fetch import Fetcher, check_http_url
from .base import Candidate

DEFAULT_BASE_URL = "https://www.bing.com"
PAGE_SIZE = 35


class _ResultParser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.results: list[dict] = []

    def handle_starttag(self, tag, attrs):
        if tag != "a":
            return
        attributes = dict(attrs)
        if "iusc" not in (attributes.get("class") or "").split() or not attributes.get("m"):
            return
        try:
            meta = json.loads(attributes["m"])  # the parser has already undone &quot; etc.
        except json.JSONDecodeError:
            return
        if isinstance(meta, dict) and isinstance(meta.get("murl"), str):
            self.results.append(meta)


def parse_results_page(html: str) -> list[dict]:
    """The ``m`` JSON objects of a Bing image results page, in page order."""
    parser = _ResultParser()
    parser.feed(html)
    parser.close()
    return parser.results


class BingProvider:
    name = "bing"

    def __init__(self, base_url: str | None = None, max_pages: int = 40):
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self.max_pages = max_pages

    def page_url(self, query: str, first: int) -> str:
        params = urllib.parse.urlencode({"q": query, "first": first, "count": PAGE_SIZE, "mmasync": 1})
        return f"{self.base_url}/images/async?{params}"

    def search(self, query: str, limit: int, fetcher: Fetcher) -> Iterator[Candidate]:
        seen: set[str] = set()
        first = 0
        for _ in range(self.max_pages):
            page = fetcher.get(self.page_url(query, first), accept="text/html")
            results = parse_results_page(page.body.decode("utf-8", errors="replace"))
            fresh = 0
            for meta in results:
                url = meta["murl"]
                if url in seen:
                    continue
                seen.add(url)
                try:
                    check_http_url(url)
                except ValueError:
                    continue
                fresh += 1
                yield Candidate(url=url, provider=self.name, page_url=meta.get("purl") or None,
                                title=meta.get("t") or None)
            if not fresh:  # past the last page Bing repeats results or returns none
                return
            first += len(results)
