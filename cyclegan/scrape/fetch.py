"""A small, careful HTTP client: per-host rate limit, timeouts, retries with backoff, byte cap.

Standard library only (urllib). One ``Fetcher`` is shared by the provider (result pages) and
the download threads, so the per-host rate limit covers both.

``max_time`` bounds a whole ``get`` (every attempt, its backoff and every byte), not one read:
a server that sends one byte a second never lets a read time out, so a per-request timer
shuts the connection's socket down at the deadline, wherever the request is (headers, body,
a redirect). ``Fetcher.abort`` does the same to every request in flight, so Ctrl-C does not
wait for slow hosts.
"""
from __future__ import annotations

import functools
import http.client
import math
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
MAX_RETRIES = 100


class _Deadline:
    """The end of one ``get``: when it passes (or ``expire`` is called), every socket the
    request opened is shut down, which wakes a read blocked on a trickling server."""

    def __init__(self, seconds: float):
        self.at = time.monotonic() + seconds
        self.expired = False
        self.stopped = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self.expire)
        self._timer.daemon = True
        self._timer.start()

    def remaining(self) -> float:
        return max(0.0, self.at - time.monotonic())

    def register(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            if not self.expired:
                return
        _cut(sock)

    def expire(self, stopped: bool = False) -> None:
        with self._lock:
            self.expired = True
            self.stopped = self.stopped or stopped
            sockets = list(self._sockets)
        for sock in sockets:
            _cut(sock)

    def cancel(self) -> None:
        self._timer.cancel()


def _cut(sock: socket.socket) -> None:
    # The plain socket's shutdown, also for TLS sockets: SSLSocket.shutdown would drop its TLS
    # state under the thread that is reading.
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass


class _Watched:
    """A connection whose socket the deadline can cut (mixed into the HTTP and HTTPS connections)."""

    def __init__(self, *args, deadline: _Deadline, **kwargs):
        super().__init__(*args, **kwargs)
        self._deadline = deadline

    def connect(self):
        super().connect()
        self._deadline.register(self.sock)


class _WatchedHTTPConnection(_Watched, http.client.HTTPConnection):
    pass


class _WatchedHTTPSConnection(_Watched, http.client.HTTPSConnection):
    pass


class _WatchedHTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, deadline: _Deadline):
        super().__init__()
        self.deadline = deadline

    def http_open(self, req):
        return self.do_open(functools.partial(_WatchedHTTPConnection, deadline=self.deadline), req)


class _WatchedHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, deadline: _Deadline):
        super().__init__()
        self.deadline = deadline

    def https_open(self, req):
        return self.do_open(functools.partial(_WatchedHTTPSConnection, deadline=self.deadline), req,
                            context=self._context)


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

    def problems(self) -> list[str]:
        """What is wrong with these settings, as CLI-spelled one-liners (empty when all is well)."""
        found = []
        for option, value in (("--timeout", self.timeout), ("--max-time", self.max_time)):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                found.append(f"{option} {value}: must be a positive number of seconds")
        for option, value in (("--backoff", self.backoff), ("--host-interval", self.host_interval)):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and 0 <= value <= 3600):
                found.append(f"{option} {value}: must be between 0 and 3600 seconds")
        if not 0 <= self.retries <= MAX_RETRIES:
            found.append(f"--retries {self.retries}: must be between 0 and {MAX_RETRIES}")
        if self.max_bytes < 1:
            found.append(f"--max-bytes {self.max_bytes}: must be at least 1")
        return found


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
        self._live: set[_Deadline] = set()
        self._live_lock = threading.Lock()

    def abort(self) -> None:
        """Stop: no new request starts, and every request in flight is cut now."""
        self.stop.set()
        with self._live_lock:
            live = list(self._live)
        for deadline in live:
            deadline.expire(stopped=True)

    def get(self, url: str, *, accept: str = "*/*", max_bytes: int | None = None) -> Response:
        """GET ``url`` with retries, all within ``max_time``; raises FetchError when it failed."""
        s = self.settings
        host = urllib.parse.urlsplit(url).netloc
        if self.stop.is_set():
            raise FetchError(url, "stopped")
        self.limiter.wait(host)  # waiting for our own turn is not the server's time
        deadline = _Deadline(s.max_time)
        with self._live_lock:
            self._live.add(deadline)
        if self.stop.is_set():  # abort() ran before this request was registered
            deadline.expire(stopped=True)
        try:
            for attempt in range(s.retries + 1):
                if attempt:
                    self.limiter.wait(host)
                try:
                    return self._get_once(url, accept, max_bytes or s.max_bytes, deadline)
                except FetchError as exc:
                    delay = s.backoff * (2 ** attempt) * (1 + 0.25 * random.random())
                    if exc.retry_after is not None:
                        delay = max(delay, min(exc.retry_after, 30.0))
                    if not exc.retryable or attempt == s.retries or delay >= deadline.remaining():
                        raise
                    self.stop.wait(delay)
            raise AssertionError("unreachable")
        finally:
            deadline.cancel()
            with self._live_lock:
                self._live.discard(deadline)

    def _get_once(self, url: str, accept: str, max_bytes: int, deadline: _Deadline) -> Response:
        s = self.settings
        request = urllib.request.Request(url, headers={"User-Agent": s.user_agent, "Accept": accept})
        opener = urllib.request.build_opener(_HttpOnlyRedirects(), _WatchedHTTPHandler(deadline),
                                             _WatchedHTTPSHandler(deadline))

        def cut_short() -> FetchError:
            if deadline.stopped or self.stop.is_set():
                return FetchError(url, "stopped")
            return FetchError(url, f"took longer than --max-time {s.max_time:g} s")

        if deadline.expired:
            raise cut_short()
        try:
            with opener.open(request, timeout=max(0.001, min(s.timeout, deadline.remaining()))) as reply:
                length = reply.headers.get("Content-Length")
                length = int(length) if length and length.isdigit() else None
                if length is not None and length > max_bytes:
                    raise FetchError(url, f"too large ({length} bytes > cap {max_bytes})")
                chunks, total = [], 0
                while True:
                    if deadline.expired:
                        raise cut_short()
                    chunk = reply.read1(_CHUNK)
                    if not chunk:
                        break
                    total += len(chunk)
                    if total > max_bytes:
                        raise FetchError(url, f"too large (over cap {max_bytes} bytes)")
                    chunks.append(chunk)
                if deadline.expired:  # the cut socket reads as an early end of the body
                    raise cut_short()
                if length is not None and total < length:
                    raise FetchError(url, f"connection closed after {total} of {length} bytes", retryable=True)
                content_type = reply.headers.get_content_type() if reply.headers.get("Content-Type") else ""
                return Response(reply.geturl(), reply.status, content_type.lower(),
                                {k.lower(): v for k, v in reply.headers.items()}, b"".join(chunks))
        except FetchError:
            raise
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
            if deadline.expired:  # whatever the cut socket raised (OSError, ValueError, TLS errors)
                raise cut_short() from None
            raise _failure(url, exc) from None


def _failure(url: str, exc: Exception) -> FetchError:
    """A FetchError for what urllib raised, saying whether a retry may help."""
    if isinstance(exc, urllib.error.HTTPError):
        retry_after = exc.headers.get("Retry-After") if exc.headers else None
        wait = float(retry_after) if retry_after and retry_after.isdigit() else None
        return FetchError(url, f"HTTP {exc.code} {exc.reason}", exc.code == 429 or exc.code >= 500, wait)
    if isinstance(exc, (urllib.error.URLError, http.client.HTTPException, OSError)):
        reason = getattr(exc, "reason", None) or exc
        return FetchError(url, f"{type(exc).__name__}: {reason}", retryable=True)
    return FetchError(url, f"bad URL ({exc})")  # ValueError: trying again cannot help
