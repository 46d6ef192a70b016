"""A domain folder being filled: ``train/``, ``test/`` and ``manifest.jsonl``.

Invariants that make re-runs and Ctrl-C safe:
- an image file is written atomically under a name derived from its own content, and never
  over an existing file;
- its manifest line is appended (one write, then fsync) right after, with SIGINT deferred
  between the two, so an interrupted run leaves every kept file with its line;
- what the folder already holds (manifest lines and any image files without one, e.g. ones
  the user added) is hashed on open, so nothing already there is added again.
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ..checkpoint import atomic_write_bytes
from ..data.images import list_images
from ..errors import UserError
from .hygiene import CleanedImage, Rejected, hash_distance, perceptual_hash, sha256_hex, decode_image

MANIFEST = "manifest.jsonl"
SPLITS = ("train", "test")


@contextlib.contextmanager
def sigint_deferred():
    """Hold Ctrl-C until the block ends (main thread only), then raise KeyboardInterrupt."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received:
            raise KeyboardInterrupt


def read_manifest(path: Path) -> list[dict]:
    """Manifest records; a torn last line (power loss) is skipped with a warning."""
    if not path.is_file():
        return []
    records, bad = [], 0
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            bad += 1
            continue
        if isinstance(record, dict) and isinstance(record.get("file"), str):
            records.append(record)
        else:
            bad += 1
    if bad:
        warnings.warn(f"{path}: skipped {bad} unreadable line(s)")
    return records


@dataclass
class Known:
    """What is already in the domain: hashes to dedupe against, URLs not worth fetching again."""
    sha256s: set[str] = field(default_factory=set)
    phashes: list[tuple[str, str]] = field(default_factory=list)  # (phash, file)
    urls: set[str] = field(default_factory=set)

    def add(self, sha256s, phash: str | None, file: str, url: str | None = None) -> None:
        self.sha256s.update(s for s in sha256s if s)
        if phash:
            self.phashes.append((phash, file))
        if url:
            self.urls.add(url)

    def duplicate_of(self, sha256s, phash: str, max_distance: int) -> str | None:
        """'exact' / 'near FILE' when an equal or perceptually close image is known, else None."""
        if any(s in self.sha256s for s in sha256s):
            return "exact copy of a kept image"
        for known, file in self.phashes:
            distance = hash_distance(phash, known)
            if distance <= max_distance:
                return f"near duplicate of {file} (distance {distance})"
        return None


def hash_file(path: Path) -> tuple[str, str | None]:
    """(sha256, perceptual hash or None when the file cannot be decoded) of an existing file."""
    data = path.read_bytes()
    try:
        image, _ = decode_image(data, min_size=1)
    except Rejected:
        return sha256_hex(data), None
    return sha256_hex(data), perceptual_hash(image)


class DomainStore:
    def __init__(self, root: Path, dedupe_distance: int):
        self.root = Path(root)
        self.manifest_path = self.root / MANIFEST
        self.dedupe_distance = dedupe_distance
        self.known = Known()
        if self.root.is_dir() and not (self.root / "train").is_dir() and list_images(self.root):
            raise UserError(f"{self.root} holds images directly; the trainer would ignore them once train/ "
                            "exists: move them into train/ first, or scrape into another domain name")
        self.records = read_manifest(self.manifest_path)
        described = set()
        for record in self.records:
            described.add(record["file"])
            self.known.add((record.get("sha256"), record.get("source_sha256")), record.get("phash"),
                           record["file"], record.get("url"))
        # Files nobody described (added by hand, or a run killed with SIGKILL mid-write) count too.
        for split in SPLITS:
            folder = self.root / split
            if not folder.is_dir():
                continue
            for path in list_images(folder):
                relative = f"{split}/{path.name}"
                if relative not in described:
                    sha, phash = hash_file(path)
                    self.known.add((sha,), phash, relative)

    def duplicate_of(self, image: CleanedImage) -> str | None:
        return self.known.duplicate_of((image.sha256, image.source_sha256), image.phash, self.dedupe_distance)

    def add(self, image: CleanedImage, split: str, provenance: dict) -> dict:
        """Write the image and its manifest line; returns the record. Never overwrites a file."""
        relative = f"{split}/{image.sha256[:16]}.{image.ext}"
        path = self.root / relative
        if path.exists():  # same content under the same name: already there
            raise FileExistsError(relative)
        record = {
            "file": relative, "split": split, **provenance,
            "sha256": image.sha256, "source_sha256": image.source_sha256, "phash": image.phash,
            "width": image.width, "height": image.height, "source_format": image.source_format,
            "bytes": len(image.data),
            "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        with sigint_deferred():
            atomic_write_bytes(path, image.data)
            self._append(line)
        self.records.append(record)
        self.known.add((image.sha256, image.source_sha256), image.phash, relative, provenance.get("url"))
        return record

    def _append(self, line: bytes) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.manifest_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
