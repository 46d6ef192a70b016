"""Resumable HTTP download of one large file, with a progress bar.

The bytes go to ``<dest>.part``; a sidecar ``<dest>.part.json`` remembers the URL and the
server's validator (ETag or Last-Modified). A later attempt asks for the rest with
``Range: bytes=N-`` and ``If-Range: <validator>``: a 206 answer appends, a 200 answer (the
server ignores ranges, or the file changed) starts over. The finished file is renamed to
``dest`` only once its length matches what the server announced, or, when the server
announces none, the ``expected_size`` the caller knows (from the catalog or an earlier
verified download). A transfer whose length nobody knows is only as trustworthy as the
caller's own check of the file (for a zip: its central directory and CRCs).
"""
from __future__ import annotations

import http.client
import json
import re
import socket
import urllib.error
import urllib.request
from pathlib import Path


from cyclegan.progress import progress_bar
from ..errors import UserError
from ..scrape.fetch import DEFAULT_USER_AGENT, http_only_opener

_CHUNK = 256 * 1024
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


class _Incomplete(Exception):
    """A transfer that stopped early; the .part file keeps what arrived."""


def _sidecar(part: Path) -> Path:
    return part.with_name(part.name + ".json")


def _resume_state(part: Path, url: str) -> tuple[int, str | None]:
    """(bytes already downloaded, validator) for ``url``; a stale part for another URL is dropped."""
    sidecar = _sidecar(part)
    if part.is_file() and sidecar.is_file():
        try:
            meta = json.loads(sidecar.read_text())
        except (OSError, json.JSONDecodeError):
            meta = {}
        if meta.get("url") == url:
            return part.stat().st_size, meta.get("validator")
    part.unlink(missing_ok=True)
    sidecar.unlink(missing_ok=True)
    return 0, None


def download(url: str, dest: Path, *, timeout: float = 30.0, retries: int = 3, max_bytes: int = 8 << 30,
             progress: bool = True, user_agent: str = DEFAULT_USER_AGENT, expected_size: int | None = None) -> Path:
    """Download ``url`` to ``dest`` (resuming a previous partial download); returns ``dest``."""
    if not (timeout > 0 and timeout != float("inf")):
        raise UserError(f"--timeout {timeout:g}: must be a positive number of seconds")
    if retries < 0:
        raise UserError(f"--retries {retries}: must be 0 or more")
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    last_error = ""
    for _attempt in range(retries + 1):
        try:
            _attempt_once(url, part, timeout, max_bytes, progress, user_agent, expected_size)
            part.replace(dest)
            _sidecar(part).unlink(missing_ok=True)
            return dest
        except _Incomplete as exc:
            last_error = str(exc)
    have = part.stat().st_size if part.exists() else 0
    raise UserError(f"download of {url} stopped at {have} bytes ({last_error}); run the same command "
                    "again to resume from there")


def _attempt_once(url: str, part: Path, timeout: float, max_bytes: int, progress: bool, user_agent: str,
                  expected_size: int | None) -> None:
    offset, validator = _resume_state(part, url)
    headers = {"User-Agent": user_agent}
    if offset:
        headers["Range"] = f"bytes={offset}-"
        if validator:
            headers["If-Range"] = validator
    request = urllib.request.Request(url, headers=headers)
    try:
        reply = http_only_opener().open(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:
            match = re.match(r"bytes \*/(\d+)", exc.headers.get("Content-Range", ""))
            if match and int(match.group(1)) == offset:
                return  # the part file already holds everything
            _resume_state(part, "")  # the part no longer fits the file on the server: start over
            raise _Incomplete("server refused the resume range; starting over") from None
        if exc.code == 429 or exc.code >= 500:
            raise _Incomplete(f"HTTP {exc.code} {exc.reason}") from None
        raise UserError(f"download of {url} failed: HTTP {exc.code} {exc.reason}; check the name "
                        "and --base-url") from None
    except (urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        raise _Incomplete(f"{type(exc).__name__}: {reason}") from None
    with reply:
        length = reply.headers.get("Content-Length")
        if reply.status == 206:
            match = _CONTENT_RANGE.match(reply.headers.get("Content-Range", ""))
            if not match or int(match.group(1)) != offset:
                _resume_state(part, "")
                raise _Incomplete("server answered a different range; starting over")
            total = int(match.group(3)) if match.group(3) != "*" else None
            mode = "ab"
        else:  # 200: the whole file, whatever we had
            offset, mode = 0, "wb"
            total = int(length) if length and length.isdigit() else None
        # With no length announced, the end of the connection alone proves nothing: a transfer
        # shorter than the size we know is incomplete (a longer one is the caller's to judge).
        at_least = expected_size if total is None else None
        if total is not None and total > max_bytes:
            raise UserError(f"{url} is {total} bytes, over the {max_bytes} byte limit (--max-bytes)")
        new_validator = reply.headers.get("ETag") or reply.headers.get("Last-Modified")
        _sidecar(part).write_text(json.dumps({"url": url, "validator": new_validator}))
        received = offset
        bar = progress_bar(total=total, initial=offset, unit="B", unit_scale=True, unit_divisor=1024,
                   desc=part.name.removesuffix(".part"), disable=not progress)
        try:
            with open(part, mode) as out:
                while True:
                    try:
                        chunk = reply.read(_CHUNK)
                    except (socket.timeout, TimeoutError, ConnectionError, http.client.HTTPException) as exc:
                        raise _Incomplete(f"{type(exc).__name__}: {exc}") from None
                    if not chunk:
                        break
                    received += len(chunk)
                    if received > max_bytes:
                        raise UserError(f"{url} exceeds the {max_bytes} byte limit (--max-bytes)")
                    out.write(chunk)
                    bar.update(len(chunk))
        finally:
            bar.close()
    if total is not None and received != total:
        raise _Incomplete(f"got {received} of {total} bytes")
    if at_least is not None and received < at_least:
        raise _Incomplete(f"got {received} of the {at_least} bytes this file had before")
