"""Sending dashboard updates to a visdom server without ever slowing or stopping training.

visdom's client blocks on every request and has no timeout, so a hung server would freeze the
training loop. Here the loop only drops an update into a bounded queue (and drops the update
itself when the queue is full); one background thread talks to the server, with a timeout on
every request. A server that is gone or stops answering costs one warning and nothing else.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
import urllib.error
import urllib.request
import warnings
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import urlparse

# visdom 0.2.4's client calls the deprecated ``logger.warn`` when it connects. The warning says
# nothing to our users and, raised from the sender thread, lands in unrelated code's warning records.
warnings.filterwarnings("ignore", message="The 'warn' method is deprecated", category=DeprecationWarning)


def server_url(server: str, port: int) -> str:
    """``http://localhost`` + 8097 -> ``http://localhost:8097`` (a scheme is added when missing)."""
    parsed = urlparse(server if "://" in server else f"http://{server}")
    host = parsed.hostname or "localhost"
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    return f"{parsed.scheme}://{host}:{port}"


def server_answers(url: str, timeout: float = 1.5) -> bool:
    """True when something answers HTTP at ``url`` within ``timeout`` seconds (any status)."""
    try:
        with urllib.request.urlopen(url + "/", timeout=timeout):
            return True
    except urllib.error.HTTPError:
        return True  # an error page is still a server (visdom under tornado 6.6 answers 403)
    except Exception:
        return False


def _client_class():
    """visdom.Visdom whose requests carry a timeout and raise on failure instead of printing."""
    import requests
    from visdom import Visdom

    class TimeoutVisdom(Visdom):
        request_timeout = 5.0

        def _handle_post(self, url, data=None):  # visdom documents this as the override point
            if not hasattr(self, "_timeout_session"):
                self._timeout_session = requests.Session()
            response = self._timeout_session.post(url, data=data or {}, timeout=self.request_timeout)
            response.raise_for_status()
            return response.text

    return TimeoutVisdom


@dataclass
class SenderStats:
    sent: int = 0
    dropped: int = 0       # updates discarded because the queue was full or the server was down
    failed: int = 0        # requests that raised (timeout, refused, HTTP error)
    errors: list[str] = field(default_factory=list)


class VisdomSender:
    """A background thread that runs ``fn(client)`` for each submitted update, in order.

    ``submit`` never blocks. After a failed request the sender waits ``retry_after`` seconds
    before trying again (updates in between are dropped), so a dead server is not hammered and
    a restarted one is picked up again.
    """

    def __init__(self, url: str, env: str, timeout: float = 5.0, max_pending: int = 32,
                 retry_after: float = 10.0, warn: Callable[[str], None] | None = None):
        self.url, self.env, self.timeout, self.retry_after = url, env, timeout, retry_after
        self.stats = SenderStats()
        self._warn = warn or (lambda message: warnings.warn(message, RuntimeWarning, stacklevel=2))
        self._warned = False
        self._queue: queue.Queue = queue.Queue(maxsize=max_pending)
        self._client = None
        self._down_until = 0.0
        self._thread = threading.Thread(target=self._work, name="visdom-sender", daemon=True)
        self._thread.start()

    def submit(self, update: Callable) -> bool:
        try:
            self._queue.put_nowait(update)
            return True
        except queue.Full:
            self.stats.dropped += 1
            return False

    def close(self, wait: float = 10.0) -> None:
        """Let queued updates go out for up to ``wait`` seconds, then stop (a hung server is abandoned)."""
        deadline = time.monotonic() + wait
        while True:
            try:
                self._queue.put(None, timeout=max(0.0, deadline - time.monotonic()))
                break
            except queue.Full:
                if time.monotonic() >= deadline:
                    break
        self._thread.join(max(0.0, deadline - time.monotonic()))

    def _work(self) -> None:
        while True:
            update = self._queue.get()
            if update is None:
                return
            if time.monotonic() < self._down_until:
                self.stats.dropped += 1
                continue
            try:
                update(self._connect())
                self.stats.sent += 1
            except Exception as exc:  # the run must not care why the dashboard failed
                self.stats.failed += 1
                self.stats.errors.append(f"{type(exc).__name__}: {exc}")
                self._client = None
                self._down_until = time.monotonic() + self.retry_after
                self.warn_once(f"the visdom server at {self.url} stopped answering "
                               f"({type(exc).__name__}); training continues without the live dashboard")

    def warn_once(self, message: str) -> None:
        if not self._warned:
            self._warned = True
            self._warn(message)

    def _connect(self):
        if self._client is None:
            # visdom logs "Without the incoming socket ..." at WARNING: we never want its socket.
            logging.getLogger("visdom").setLevel(logging.ERROR)
            cls = _client_class()
            cls.request_timeout = self.timeout
            parsed = urlparse(self.url)
            host = parsed.netloc.rsplit(":", 1)[0]  # keeps the brackets of an IPv6 literal
            self._client = cls(server=f"{parsed.scheme}://{host}", port=parsed.port,
                               env=self.env, raise_exceptions=True, use_incoming_socket=False)
        return self._client
