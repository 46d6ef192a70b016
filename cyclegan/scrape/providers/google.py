"""Google Images through the ``google-images-download`` package. EXPERIMENTAL.

Version 2.x of that package has returned nothing since Google changed its pages in 2020.
Version 3.x drives a headless Chrome through Selenium, scrolls the results page and
regex-scans it for https image URLs; with ``no_download`` it only returns the URLs, which
we then download and check ourselves. Checked here: 3.0.1 with Debian's chromium and
chromedriver reads a results page served on 127.0.0.1 (about 20 s per query: it sleeps
while scrolling, and sends its own Chrome User-Agent). Whether it still finds images on
today's live Google pages could not be verified (no internet), so it is experimental:
prefer ``bing`` or ``commons``. It needs ``pip install google-images-download`` plus Chrome
or Chromium and a matching chromedriver on PATH (or ``--chromedriver``); we always pass the
driver path so that webdriver-manager never tries to download one.
"""
from __future__ import annotations

import contextlib
import io
import shutil
import urllib.parse
from typing import Iterator

from ...errors import UserError
from ..fetch import Fetcher, FetchError, check_http_url
from .base import Candidate


class GoogleProvider:
    name = "google"

    def __init__(self, base_url: str | None = None, chromedriver: str | None = None):
        self.base_url = base_url.rstrip("/") if base_url else None
        self.chromedriver = chromedriver or shutil.which("chromedriver")
        self._downloader_class()  # fail before any work when the optional pieces are missing
        if not self.chromedriver:
            raise UserError("--provider google: no chromedriver found on PATH; install Chromium's "
                            "driver (e.g. apt install chromium-driver) or pass --chromedriver PATH")

    @staticmethod
    def _downloader_class():
        try:
            from google_images_download.google_images_download import googleimagesdownload
            return googleimagesdownload
        except ImportError:
            raise UserError("--provider google needs the optional package google-images-download>=3 "
                            "(pip install google-images-download) and Chrome/Chromium; it is "
                            "experimental, --provider bing or commons work without them") from None

    def search(self, query: str, limit: int, fetcher: Fetcher) -> Iterator[Candidate]:
        googleimagesdownload = self._downloader_class()
        arguments = {"keywords": query, "limit": limit, "no_download": True, "silent_mode": True,
                     "chromedriver": self.chromedriver}
        if self.base_url:  # a results page elsewhere (tests, mirrors): the package takes a URL
            arguments["url"] = f"{self.base_url}/search?" + urllib.parse.urlencode({"q": query, "tbm": "isch"})
        printed = io.StringIO()
        try:
            with contextlib.redirect_stdout(printed):  # it prints progress we do not want
                paths, _errors = googleimagesdownload().download(arguments)
        except (SystemExit, Exception) as exc:  # it calls sys.exit() when Chrome will not start
            last = (printed.getvalue().strip().splitlines() or [""])[-1][:300]
            raise FetchError(arguments.get("url", "google"),
                             f"google-images-download failed ({type(exc).__name__}: {exc}) {last}".strip()) from None
        for urls in paths.values():
            for url in urls:
                try:
                    yield Candidate(url=check_http_url(str(url)), provider=self.name)
                except ValueError:
                    continue
