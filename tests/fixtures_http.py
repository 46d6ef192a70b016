"""A real HTTP server on 127.0.0.1 for scraper and download tests (not a test module).

Routes map a path to a ``Route``: fixed bytes or a function of the query string, a content
type, an optional delay (slow host), a number of 503 answers before success (flaky host),
a cut-off (the connection drops after N body bytes, once) and byte-range support (206
answers with Content-Range, honouring If-Range), which the standard handler lacks.
Every request is logged (path, query, headers) so tests can assert what the client sent.
"""
from __future__ import annotations

import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable


@dataclass
class Route:
    body: bytes | Callable[[dict[str, str]], bytes]
    content_type: str = "application/octet-stream"
    status: int = 200
    delay: float = 0.0
    fail_times: int = 0          # answer 503 this many times first
    cut_after: int | None = None  # drop the connection after this many body bytes (first answer only)
    etag: str | None = None
    ranges: bool = True           # False: ignore Range headers like http.server does
    hits: int = 0


@dataclass
class LoggedRequest:
    path: str
    query: dict[str, str]
    headers: dict[str, str] = field(default_factory=dict)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):
        server: LocalServer = self.server.owner  # type: ignore[attr-defined]
        parts = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(parts.query))
        server.requests.append(LoggedRequest(parts.path, query, {k.lower(): v for k, v in self.headers.items()}))
        route = server.routes.get(parts.path)
        if route is None:
            return self._send(404, b"not found", "text/plain")
        with server.lock:
            route.hits += 1
            hit = route.hits
        if route.delay:
            time.sleep(route.delay)
        if hit <= route.fail_times:
            return self._send(503, b"busy", "text/plain", {"Retry-After": "0"})
        body = route.body(query) if callable(route.body) else route.body
        extra = {"ETag": route.etag} if route.etag else {}
        status, start = route.status, 0
        wanted = self.headers.get("Range")
        if_range = self.headers.get("If-Range")
        if wanted and route.ranges and status == 200 and (if_range is None or if_range == route.etag):
            first = int(wanted.split("=", 1)[1].split("-", 1)[0])
            if first >= len(body):
                return self._send(416, b"", "text/plain", {"Content-Range": f"bytes */{len(body)}"})
            status, start = 206, first
            extra["Content-Range"] = f"bytes {first}-{len(body) - 1}/{len(body)}"
        payload = body[start:]
        cut = route.cut_after if hit == route.fail_times + 1 else None
        self._send(status, payload, route.content_type, extra, cut)

    def _send(self, status, body, content_type, headers=None, cut=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        try:
            if cut is not None:
                self.wfile.write(body[:cut])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


class LocalServer:
    def __init__(self):
        self.routes: dict[str, Route] = {}
        self.requests: list[LoggedRequest] = []
        self.lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.owner = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def add(self, path: str, body, content_type: str = "application/octet-stream", **kwargs) -> str:
        self.routes[path] = Route(body, content_type, **kwargs)
        return self.url(path)

    def hits(self, path: str) -> int:
        return sum(1 for r in self.requests if r.path == path)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._httpd.shutdown()
        self._httpd.server_close()
