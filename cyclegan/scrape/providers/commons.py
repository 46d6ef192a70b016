"""Wikimedia Commons through its Action API (``/w/api.php``), with licenses and authors.

A query starting with ``Category:`` lists that category's files
(``generator=categorymembers``); anything else is a full-text search of the File namespace
(``generator=search``, namespace 6). ``prop=imageinfo`` with ``extmetadata`` gives each
file's URL, a thumbnail of the requested width, its MIME type, license and author. Pages
follow the ``continue`` object until the listing ends.
"""
from __future__ import annotations

import html
import json
import re
import urllib.parse
from typing import Iterator

from ..fetch import Fetcher, FetchError, check_http_url
from .base import Candidate

DEFAULT_BASE_URL = "https://commons.wikimedia.org"
PAGE_SIZE = 50
# Raster formats worth training on; SVG, PDF, DjVu, TIFF scans and video are skipped.
IMAGE_MIMES = {"image/jpeg", "image/png", "image/webp", "image/gif"}
_TAG = re.compile(r"<[^>]+>")


def plain_text(value: str | None) -> str | None:
    """extmetadata values are HTML (Artist is usually a link): keep the readable text."""
    if not value:
        return None
    text = " ".join(html.unescape(_TAG.sub(" ", value)).split())
    return text or None


def _meta(extmetadata: dict, key: str) -> str | None:
    entry = extmetadata.get(key)
    return entry.get("value") if isinstance(entry, dict) else None


class CommonsProvider:
    name = "commons"

    def __init__(self, base_url: str | None = None, thumb_width: int = 1024, max_pages: int = 200):
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self.thumb_width = thumb_width  # 0 = original files (can be 100+ MB scans)
        self.max_pages = max_pages

    def query_params(self, query: str, limit: int) -> dict[str, str]:
        params = {"action": "query", "format": "json", "formatversion": "2", "prop": "imageinfo",
                  "iiprop": "url|size|mime|sha1|extmetadata"}
        if self.thumb_width:
            params["iiurlwidth"] = str(self.thumb_width)
        page_size = str(max(1, min(PAGE_SIZE, limit)))
        if query.startswith("Category:"):
            params.update(generator="categorymembers", gcmtitle=query, gcmtype="file", gcmlimit=page_size)
        else:
            params.update(generator="search", gsrsearch=query, gsrnamespace="6", gsrlimit=page_size)
        return params

    def search(self, query: str, limit: int, fetcher: Fetcher) -> Iterator[Candidate]:
        base_params = self.query_params(query, limit)
        continuation: dict[str, str] = {}
        for _ in range(self.max_pages):
            url = f"{self.base_url}/w/api.php?" + urllib.parse.urlencode({**base_params, **continuation})
            reply = fetcher.get(url, accept="application/json")
            try:
                answer = json.loads(reply.body)
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise FetchError(url, "answer is not JSON") from None
            if not isinstance(answer, dict):
                raise FetchError(url, "answer does not look like the MediaWiki Action API")
            if "error" in answer:
                error = answer["error"] if isinstance(answer["error"], dict) else {"info": answer["error"]}
                raise FetchError(url, f"API error {error.get('code')}: {error.get('info')}")
            try:
                found = list(self._candidates(answer.get("query", {}).get("pages", [])))
                continuation = dict(answer.get("continue") or {})
            except (AttributeError, TypeError, ValueError):
                raise FetchError(url, "answer does not look like the MediaWiki Action API") from None
            yield from found
            if not continuation:
                return

    def _candidates(self, pages) -> Iterator[Candidate]:
        if isinstance(pages, dict):  # formatversion=1 keys pages by id
            pages = list(pages.values())
        # Search results carry their rank in 'index'; the API returns pages in id order.
        for page in sorted(pages, key=lambda p: p.get("index", 0)):
            for info in page.get("imageinfo") or []:
                if info.get("mime") not in IMAGE_MIMES:
                    continue
                url = info.get("thumburl") if self.thumb_width and info.get("thumburl") else info.get("url")
                try:
                    check_http_url(url or "")
                except ValueError:
                    continue
                meta = info.get("extmetadata") or {}
                yield Candidate(
                    url=url, provider=self.name,
                    page_url=info.get("descriptionurl"),
                    title=page.get("title"),
                    license=plain_text(_meta(meta, "LicenseShortName")),
                    license_url=plain_text(_meta(meta, "LicenseUrl")),
                    author=plain_text(_meta(meta, "Artist")),
                    credit=plain_text(_meta(meta, "Credit")),
                )
