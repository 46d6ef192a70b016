"""``cyclegan-datasets clean NAME``: the scraper's hygiene applied to any dataset folder.

Nothing is deleted. Unreadable, too small and duplicate images are moved to
``NAME/.clean-removed/<reason>/<split>/``; an image that needs converting (not RGB, EXIF
rotation, a format other than JPEG/PNG, over --max-side, or an extension that lies about its
format) is written next to the original as a clean RGB JPEG/PNG and the original is moved
to ``.clean-removed/original/``. Train splits are processed first, so of a train/test
duplicate the test copy is the one moved. A scraper manifest is updated to match.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from cyclegan.progress import progress_bar
from ..checkpoint import atomic_write_bytes
from ..data.images import list_images
from ..scrape.hygiene import (DEFAULT_DEDUPE_DISTANCE, DEFAULT_MAX_PIXELS, DEFAULT_MIN_SIZE, CleanedImage,
                              Rejected, clean_bytes)
from ..scrape.store import MANIFEST, Known, read_manifest, sigint_deferred
from .folders import image_splits, side_of

REMOVED_DIR = ".clean-removed"
_EXTENSIONS = {"JPEG": (".jpg", ".jpeg"), "PNG": (".png",)}


@dataclass
class CleanOptions:
    root: Path
    min_size: int = DEFAULT_MIN_SIZE
    max_side: int | None = None
    dedupe_distance: int = DEFAULT_DEDUPE_DISTANCE
    image_format: str = "auto"
    max_pixels: int = DEFAULT_MAX_PIXELS
    dry_run: bool = False
    progress: bool = True


@dataclass
class CleanReport:
    kept: int = 0
    converted: int = 0
    moved: Counter = field(default_factory=Counter)          # reason -> count
    actions: list[str] = field(default_factory=list)         # one line per change, for --verbose / dry runs
    interrupted: bool = False

    def line(self) -> str:
        m = self.moved
        return (f"{self.kept} kept as they were, {self.converted} converted, moved aside: {m['corrupt']} corrupt, "
                f"{m['too_small']} too small, {m['duplicate']} duplicate"
                + (" (interrupted)" if self.interrupted else ""))


def _needs_rewrite(path: Path, data_format: str, cleaned: CleanedImage) -> bool:
    """True unless the file already is an upright RGB JPEG/PNG with a truthful extension and size."""
    if data_format not in _EXTENSIONS or path.suffix.lower() not in _EXTENSIONS[data_format]:
        return True
    try:
        with Image.open(path) as image:
            orientation = image.getexif().get(0x0112, 1)
            return image.mode != "RGB" or orientation not in (0, 1) or image.size != (cleaned.width, cleaned.height)
    except (OSError, UnidentifiedImageError, ValueError):
        return True


def _free_path(path: Path) -> Path:
    """``path``, or the same name with -1, -2 ... when it is taken."""
    candidate, n = path, 0
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
    return candidate


def clean_domain(opts: CleanOptions) -> CleanReport:
    root = Path(opts.root)
    splits = image_splits(root)
    manifest_path = root / MANIFEST
    records = {r["file"]: r for r in read_manifest(manifest_path)}
    manifest_changed = False
    known: dict[str, Known] = {}
    report = CleanReport()
    files = [(split, path) for split, folder in splits for path in list_images(folder)]

    def move_aside(split: str, path: Path, reason: str, detail: str) -> None:
        nonlocal manifest_changed
        relative = path.name if split == "." else f"{split}/{path.name}"
        report.actions.append(f"{reason}: {relative}: {detail}")
        if reason != "original":
            report.moved[reason] += 1
        if opts.dry_run:
            return
        destination = _free_path(root / REMOVED_DIR / reason / split / path.name)
        destination.parent.mkdir(parents=True, exist_ok=True)
        path.rename(destination)
        if records.pop(relative, None) is not None:
            manifest_changed = True

    try:
        for split, path in progress_bar(files, desc=f"clean {root.name}", unit="img", disable=not opts.progress):
            data = path.read_bytes()
            seen = known.setdefault(side_of(split), Known())
            with sigint_deferred():
                try:
                    cleaned = clean_bytes(data, min_size=opts.min_size, max_side=opts.max_side,
                                          max_pixels=opts.max_pixels, fmt_choice=opts.image_format)
                except Rejected as exc:
                    move_aside(split, path, exc.kind, exc.detail)
                    continue
                duplicate = seen.duplicate_of((cleaned.source_sha256, cleaned.sha256), cleaned.phash,
                                              opts.dedupe_distance)
                if duplicate:
                    move_aside(split, path, "duplicate", duplicate)
                    continue
                relative = path.name if split == "." else f"{split}/{path.name}"
                seen.add((cleaned.source_sha256, cleaned.sha256), cleaned.phash, relative)
                if not _needs_rewrite(path, cleaned.source_format, cleaned):
                    report.kept += 1
                    continue
                report.converted += 1
                wanted = path.with_suffix(f".{cleaned.ext}")
                final = wanted if wanted == path or not wanted.exists() else _free_path(wanted)
                new_relative = final.name if split == "." else f"{split}/{final.name}"
                report.actions.append(f"convert: {relative} -> {new_relative}")
                if opts.dry_run:
                    continue
                # Write beside the original, move the original aside, then take the wanted name:
                # at every moment the image exists in the dataset or under .clean-removed/.
                staged = _free_path(final.with_name(f"{final.stem}-clean{final.suffix}"))
                atomic_write_bytes(staged, cleaned.data)
                record = records.get(relative)
                move_aside(split, path, "original", f"replaced by {new_relative}")
                staged.rename(final)
                if record is not None:
                    record.update(file=new_relative, sha256=cleaned.sha256, width=cleaned.width,
                                  height=cleaned.height, bytes=len(cleaned.data))
                    records[new_relative] = record
                    manifest_changed = True
    except KeyboardInterrupt:
        report.interrupted = True
    finally:
        if manifest_changed and not opts.dry_run:
            lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records.values())
            atomic_write_bytes(manifest_path, lines.encode("utf-8"))
    return report
