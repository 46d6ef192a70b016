"""Extracting a downloaded zip without trusting it.

Python's ``zipfile.extractall`` silently rewrites ``../x`` and ``/x`` into the target and
turns symlink entries into regular files (shared/notes). We check every entry first and
refuse the whole archive when one is hostile: a path that is absolute or climbs out with
``..``, a symlink or other special file, an encrypted entry or one in a compression method
Python cannot read, too many entries, or sizes over the limits. Sizes are checked per entry
and for the whole archive: many small entries that each expand a little are as much a zip
bomb as one that expands a lot (300 entries of 1 MiB of zeros fit in 365 KB). Declared sizes
are checked up front, real sizes while writing. Extraction goes to a temporary folder beside
the target, which is renamed into place only when complete: a corrupt entry met halfway
leaves nothing behind.
"""
from __future__ import annotations

import re
import shutil
import stat
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..errors import UserError

_CHUNK = 1 << 20
_JUNK = ("__MACOSX/",)
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class ExtractLimits:
    max_entries: int = 200_000
    max_entry_bytes: int = 2 << 30     # 2 GiB for one file
    max_total_bytes: int = 32 << 30    # 32 GiB for the archive
    max_ratio: int = 200               # uncompressed / compressed, per entry and for the whole archive
    ratio_floor: int = 1 << 20         # below this many bytes (an entry, or all of them) any ratio is harmless

# What zipfile can decompress; anything else raises NotImplementedError halfway through.
_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate", zipfile.ZIP_BZIP2: "bzip2",
            zipfile.ZIP_LZMA: "lzma"}


def _member_parts(info: zipfile.ZipInfo) -> tuple[str, ...] | str:
    """The entry's path components, or a reason to refuse it."""
    name = info.filename.replace("\\", "/")
    if name.startswith("/") or _DRIVE.match(name):
        return "has an absolute path"
    parts = tuple(p for p in PurePosixPath(name).parts if p not in ("", "."))
    if ".." in parts:
        return "climbs out of the target folder with '..'"
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        return "is a symbolic link"
    if stat.S_IFMT(mode) and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        return "is a special file (device, pipe or socket)"
    if info.flag_bits & 0x1:
        return "is encrypted"
    if info.compress_type not in _METHODS:
        return f"uses compression method {info.compress_type}, which cannot be read (stored, deflate, bzip2, lzma can)"
    return parts


def check_archive(archive: zipfile.ZipFile, source: Path, limits: ExtractLimits) -> list[tuple[zipfile.ZipInfo, tuple[str, ...]]]:
    """Every entry to extract with its path parts; raises UserError naming the first bad one."""
    members = archive.infolist()
    if len(members) > limits.max_entries:
        raise UserError(f"{source}: refusing to extract {len(members)} entries (limit {limits.max_entries})")
    checked, total, compressed = [], 0, 0
    for info in members:
        if info.filename.startswith(_JUNK) or info.filename.endswith("/.DS_Store"):
            continue
        parts = _member_parts(info)
        if isinstance(parts, str):
            raise UserError(f"{source}: refusing to extract: entry {info.filename!r} {parts}; "
                            "the archive is damaged or malicious")
        if not parts:
            continue
        if info.file_size > limits.max_entry_bytes:
            raise UserError(f"{source}: refusing to extract: entry {info.filename!r} is {info.file_size} bytes "
                            f"(limit {limits.max_entry_bytes})")
        if info.file_size > limits.ratio_floor and info.file_size > limits.max_ratio * max(1, info.compress_size):
            raise UserError(f"{source}: refusing to extract: entry {info.filename!r} expands "
                            f"{info.file_size // max(1, info.compress_size)}x (zip bomb?)")
        total += info.file_size
        compressed += info.compress_size
        if total > limits.max_total_bytes:
            raise UserError(f"{source}: refusing to extract: more than {limits.max_total_bytes} bytes in total")
        checked.append((info, parts))
    # The whole archive, against what it really weighs (declared compressed sizes can lie upwards).
    weight = max(1, min(compressed, _archive_bytes(archive)))
    if total > limits.ratio_floor and total > limits.max_ratio * weight:
        raise UserError(f"{source}: refusing to extract: {len(checked)} entries expand {total // weight}x in total "
                        f"({total} bytes from {weight}; limit {limits.max_ratio}x) (zip bomb?)")
    return checked


def _archive_bytes(archive: zipfile.ZipFile) -> int:
    try:
        archive.fp.seek(0, 2)
        return archive.fp.tell()
    except (AttributeError, OSError, ValueError):
        return 1 << 62


def safe_extract(zip_path: Path, target: Path, limits: ExtractLimits | None = None) -> Path:
    """Extract ``zip_path`` so that its content ends up as ``target`` (which must not exist).

    A zip holding one top folder (``horse2zebra/trainA/...``) has that folder renamed to
    ``target``; otherwise the whole extraction becomes ``target``.
    """
    limits = limits or ExtractLimits()
    zip_path, target = Path(zip_path), Path(target)
    if target.exists():
        raise UserError(f"{target} already exists; remove it (or pass --force) to extract again")
    try:
        archive = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise UserError(f"{zip_path}: not a readable zip file ({_one_line(exc)}): incomplete or damaged; "
                        "delete it and download again") from None
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.extract-", dir=target.parent))
    try:
        with archive:
            members = check_archive(archive, zip_path, limits)
            root = staging.resolve()
            written, budget = 0, min(limits.max_total_bytes,
                                     max(limits.ratio_floor, limits.max_ratio * _archive_bytes(archive)))
            for info, parts in members:
                destination = staging.joinpath(*parts)
                if root not in destination.resolve().parents and destination.resolve() != root:
                    raise UserError(f"{zip_path}: refusing to extract: entry {info.filename!r} leaves the target")
                if info.is_dir():
                    destination.mkdir(parents=True, exist_ok=True)
                    continue
                destination.parent.mkdir(parents=True, exist_ok=True)
                written += _copy_member(archive, info, destination, zip_path)
                if written > budget:  # real bytes, in case a header understated its entry
                    raise UserError(f"{zip_path}: refusing to extract: more than {budget} bytes in total "
                                    "(zip bomb?)")
        tops = list(staging.iterdir())
        content = tops[0] if len(tops) == 1 and tops[0].is_dir() else staging
        content.rename(target)
    except _Damaged as exc:
        raise UserError(f"{zip_path}: {exc}; the archive is damaged: delete it and download again") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, zlib.error, NotImplementedError,
            RuntimeError) as exc:
        raise UserError(f"{zip_path}: extraction failed ({type(exc).__name__}: {_one_line(exc)}); "
                        "delete the zip and download again") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


class _Damaged(Exception):
    """An entry that cannot be read back: a corrupt stream, a bad CRC, a method zipfile lacks."""


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _copy_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, destination: Path, zip_path: Path) -> int:
    """Write one entry to ``destination``; returns the bytes written."""
    try:
        source = archive.open(info)
    except (NotImplementedError, RuntimeError) as exc:  # method unknown, or its module missing
        raise _Damaged(f"entry {info.filename!r} cannot be decompressed ({_one_line(exc)})") from None
    written = 0
    with source, open(destination, "xb") as out:  # 'x': never overwrite
        while True:
            try:
                chunk = source.read(_CHUNK)
            except (zlib.error, EOFError, zipfile.BadZipFile, OSError, ValueError) as exc:  # lzma/bz2 raise these
                raise _Damaged(f"entry {info.filename!r} cannot be read ({type(exc).__name__}: "
                               f"{_one_line(exc)})") from None
            if not chunk:
                break
            written += len(chunk)
            if written > info.file_size:  # the header lied about the size
                raise UserError(f"{zip_path}: refusing to extract: entry {info.filename!r} is larger "
                                "than its header says")
            out.write(chunk)
    destination.chmod(0o644)  # no execute bits or odd modes from the archive
    return written
