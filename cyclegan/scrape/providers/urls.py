"""Image URLs from a text file the user supplies: one per line, '#' starts a comment.

A line may add the page the image came from after the URL (``IMAGE_URL PAGE_URL``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

from ...errors import UserError
from ..fetch import Fetcher, check_http_url
from .base import Candidate


def read_url_file(path: Path) -> list[tuple[str, str | None]]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"--urls {path}: file does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"--urls {path}: cannot read it as UTF-8 text ({exc})") from None
    entries = []
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        try:
            url = check_http_url(fields[0])
        except ValueError:
            raise UserError(f"--urls {path}: line {number} is not an http(s) URL: {fields[0]!r}") from None
        entries.append((url, fields[1] if len(fields) > 1 else None))
    return entries


class UrlsProvider:
    name = "urls"

    def __init__(self, url_file: Path):
        self.entries = read_url_file(url_file)

    def search(self, query: str, limit: int, fetcher: Fetcher) -> Iterator[Candidate]:
        for url, page_url in self.entries:
            yield Candidate(url=url, provider=self.name, page_url=page_url)
