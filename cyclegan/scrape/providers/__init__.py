"""Image sources behind one interface (``Provider.search``), chosen by name with --provider."""
from __future__ import annotations

from pathlib import Path

from ...errors import UserError
from .base import Candidate, Provider
from .bing import BingProvider
from .commons import CommonsProvider
from .google import GoogleProvider
from .urls import UrlsProvider

PROVIDERS = ("bing", "commons", "urls", "google")


def make_provider(name: str, *, base_url: str | None = None, urls_file: str | Path | None = None,
                  thumb_width: int = 1024, chromedriver: str | None = None) -> Provider:
    if name == "bing":
        return BingProvider(base_url)
    if name == "commons":
        return CommonsProvider(base_url, thumb_width=thumb_width)
    if name == "urls":
        if not urls_file:
            raise UserError("--provider urls needs --urls FILE (a text file with one image URL per line)")
        return UrlsProvider(Path(urls_file))
    if name == "google":
        return GoogleProvider(base_url, chromedriver)
    raise UserError(f"--provider {name}: unknown; choose one of {', '.join(PROVIDERS)}")


__all__ = ["Candidate", "Provider", "PROVIDERS", "make_provider",
           "BingProvider", "CommonsProvider", "GoogleProvider", "UrlsProvider"]
