"""A small, careful HTTP client: per-host rate limit, timeouts, retries with backoff, byte cap.

Standard library only (urllib). One ``Fetcher`` is shared by the provider (result pages) and
the download threads, so the per-host rate limit covers both.
"""
from __future__ import annotations

import http.client
import random
import socket
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

from .. import __version__

DEFAULT_USER_AGENT = (f"cyclegan-toolkit/{__version__} (image domain builder; set --user-agent to add "
                      f"your contact) Python-urllib/{sys.version_info.major}.{sys.version_info.minor}")
DEFAULT_MAX_BYTES = 30 * 1024 * 1024
_CHUNK = 64 * 1024


class FetchError(Exception):
    """A request that failed; ``retryable`` says whether trying again may help."""

    def __init__(self, url: str, detail: str, retryable: bool = False, retry_after: float | None = None):
        super().__init__(f"{url}: {detail}")
        self.url = url
        self.detail = detail
        self.retryable = retryable
        self.retry_after = retry_after


@dataclass
class FetchSettings:
    timeout: float = 15.0          # seconds a connect or a single read may stall
    max_time: float = 60.0         # seconds one whole response may take
    retries: int = 2               # extra attempts after the first, for retryable failures
    backoff: float = 1.0           # first retry waits this long, then doubles
    host_interval: float = 0.5     # minimum seconds between two requests to the same host
    max_bytes: int = DEFAULT_MAX_BYTES
    user_agent: str = DEFAULT_USER_AGENT


@dataclass
class Response:
    url: str                       # after redirects
    status: int
    content_type: str              # lower-case media type without parameters ('' when absent)
    headers: dict[str, str]
    body: bytes = field(repr=False)


class HostRateLimiter:
    """Spaces requests to each host at least ``interval`` seconds apart, across threads."""

    def __init__(self, interval: float, stop: threading.Event):
        self.interval = interval
        self.stop = stop
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait(self, host: str) -> None:
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next.get(host, now))
            self._next[host] = slot + self.interval
        if slot > now:
            self.stop.wait(slot - now)


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects only to http(s): a result page must not send us to ftp:// or file://."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        if urllib.parse.urlsplit(newurl).scheme not in ("http", "https"):
            raise urllib.error.HTTPError(newurl, code, "redirect to a non-http URL refused", headers, fp)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def http_only_opener() -> urllib.request.OpenerDirector:
    """A urllib opener that follows redirects only to http(s) URLs."""
    return urllib.request.build_opener(_HttpOnlyRedirects())


def check_http_url(url: str) -> str:
    """The URL if it is absolute http(s), else raises ValueError."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"not an http(s) URL: {url!r}")
    return url


class Fetcher:
    def __init__(self, settings: FetchSettings | None = None, stop: threading.Event | None = None):
        self.settings = settings or FetchSettings()
        self.stop = stop or threading.Event()
        self.limiter = HostRateLimiter(self.settings.host_interval, self.stop)
        self._opener = http_only_opener()

    def get(self, url: str, *, accept: str = "*/*", max_bytes: int | None = None) -> Response:
        """GET ``url`` with retries; raises FetchError when every attempt failed."""
        s = self.settings
        for attempt in range(s.retries + 1):
            if self.stop.is_set():
                raise FetchError(url, "stopped")
            self.limiter.wait(urllib.parse.urlsplit(url).netloc)
            try:
                return self._get_once(url, accept, max_bytes or s.max_bytes)
            except FetchError as exc:
                if not exc.retryable or attempt == s.retries:
                    raise
                delay = s.backoff * (2 ** attempt) * (1 + 0.25 * random.random())
                if exc.retry_after is not None:
                    delay = max(delay, min(exc.retry_after, 30.0))
                self.stop.wait(delay)
        raise AssertionError("unreachable")

    def _get_once(self, url: str, accept: str, max_bytes: int) -> Response:
        s = self.settings
        request = urllib.request.Request(url, headers={"User-Agent": s.user_agent, "Accept": accept})
        started = time.monotonic()
        try:
            with self._opener.open(request, timeout=s.timeout) as reply:
                length = reply.headers.get("Content-Length")
                if length and length.isdigit() and int(length) > max_bytes:
                    raise FetchError(url, f"too large ({int(length)} bytes > cap {max_bytes})")
                chunks, total = [], 0
                while True:
                    if self.stop.is_set():
                        raise FetchError(url, "stopped")
                    if time.monotonic() - started > s.max_time:
                        raise FetchError(url, f"took longer than {s.max_time:g} s", retryable=True)
                    chunk = reply.read(_CHUNK)
                    if not chunk:
                        break
                    total += len(chunk)
                    if total > max_bytes:
                        raise FetchError(url, f"too large (over cap {max_bytes} bytes)")
                    chunks.append(chunk)
                content_type = reply.headers.get_content_type() if reply.headers.get("Content-Type") else ""
                return Response(reply.geturl(), reply.status, content_type.lower(),
                                {k.lower(): v for k, v in reply.headers.items()}, b"".join(chunks))
        except FetchError:
            raise
        except urllib.error.HTTPError as exc:
            retry_after = exc.headers.get("Retry-After") if exc.headers else None
            wait = float(retry_after) if retry_after and retry_after.isdigit() else None
            retryable = exc.code == 429 or exc.code >= 500
            raise FetchError(url, f"HTTP {exc.code} {exc.reason}", retryable, wait) from None
        except (urllib.error.URLError, http.client.HTTPException, socket.timeout, TimeoutError,
                ConnectionError, OSError) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise FetchError(url, f"{type(exc).__name__}: {reason}", retryable=True) from None
        except ValueError as exc:  # malformed URL: trying again cannot help
            raise FetchError(url, f"bad URL ({exc})") from None
