"""``cyclegan-datasets download NAME``: fetch, verify and unpack a standard dataset.

Files under the datasets folder:

    .downloads/NAME.zip.part (+ .json)   a partial download, resumed by the next attempt
    .downloads/NAME.zip                  the finished zip (deleted after extraction unless --keep-zip)
    .cyclegan-datasets.json              size and sha256 of each zip, recorded once it has been
                                         extracted whole (never from a download that stopped short)
    NAME/trainA trainB testA testB       the dataset in the reference layout

A record is the reference for later downloads, so it is written only after the zip has proved
complete: its central directory read and every entry decompressed with a matching CRC. A
record written by an older version (no ``verified`` mark) may come from a truncated transfer;
a complete zip that differs from it replaces it, with a warning.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import warnings
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ..checkpoint import atomic_write_bytes
from ..errors import UserError
from .catalog import KNOWN_ZIPS, check_name, dataset_url
from .download import download
from .safezip import ExtractLimits, safe_extract

RECORDS_FILE = ".cyclegan-datasets.json"
DOWNLOADS_DIR = ".downloads"
REFERENCE_SPLITS = ("trainA", "trainB", "testA", "testB")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_records(root: Path) -> dict:
    path = Path(root) / RECORDS_FILE
    if not path.is_file():
        return {}
    try:
        records = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise UserError(f"{path}: cannot read ({exc}); fix or delete it") from None
    return records if isinstance(records, dict) else {}


def write_records(root: Path, records: dict) -> None:
    atomic_write_bytes(Path(root) / RECORDS_FILE, (json.dumps(records, indent=2, sort_keys=True) + "\n").encode())


@dataclass
class DownloadOptions:
    name: str
    root: Path                     # the datasets folder
    base_url: str | None = None
    force: bool = False            # replace an existing extracted folder
    keep_zip: bool = False
    accept_new: bool = False       # record a zip whose size/sha256 differ from the recorded ones
    progress: bool = True
    timeout: float = 30.0
    retries: int = 3
    max_bytes: int = 8 << 30
    limits: ExtractLimits = field(default_factory=ExtractLimits)


def fetch_standard_dataset(opts: DownloadOptions) -> Path:
    """Download (resuming), verify against the recorded size/sha256, extract safely. Returns the folder."""
    name = check_name(opts.name)
    root = Path(opts.root)
    target = root / name
    if target.exists() and not opts.force:
        raise UserError(f"{target} already exists; pass --force to replace it, or `cyclegan-datasets clean "
                        f"{name}` to tidy it")
    url = dataset_url(name, opts.base_url)
    zip_path = root / DOWNLOADS_DIR / f"{name}.zip"
    records = read_records(root)
    reference = _reference(name, records.get(name))
    if not zip_path.is_file():
        download(url, zip_path, timeout=opts.timeout, retries=opts.retries, max_bytes=opts.max_bytes,
                 progress=opts.progress, expected_size=reference["size"] if reference else None)
    size, sha = zip_path.stat().st_size, file_sha256(zip_path)
    if not zipfile.is_zipfile(zip_path):  # no central directory at the end: cut short, or not a zip
        zip_path.unlink()
        raise UserError(f"{url}: the {size} bytes received are not a complete zip (the transfer stopped short "
                        "or the server sent something else); deleted, nothing recorded; run the same command again")
    if reference and (reference["size"], reference["sha256"]) != (size, sha):
        if reference["trusted"] and not opts.accept_new:
            zip_path.unlink()
            raise UserError(f"{url}: got {size} bytes with sha256 {sha[:16]}..., but {reference['origin']} had "
                            f"{reference['size']} bytes, sha256 {str(reference['sha256'])[:16]}...; the download "
                            "was deleted. Retry, or pass --accept-new if the server's file really changed")
        if not reference["trusted"]:
            warnings.warn(f"{name}: {reference['origin']} ({reference['size']} bytes) was made by an older version "
                          f"that did not check completeness; replacing it once this {size}-byte zip extracts whole")
    staging_old = None
    if target.exists():  # --force: keep the old folder until the new one is complete
        staging_old = target.with_name(f".{name}.old")
        if staging_old.exists():
            raise UserError(f"{staging_old} exists from an earlier interrupted run; remove it first")
        target.rename(staging_old)
    try:
        safe_extract(zip_path, target, opts.limits)
    except BaseException as exc:
        if staging_old is not None:
            staging_old.rename(target)
        if isinstance(exc, UserError) and not opts.keep_zip:
            zip_path.unlink(missing_ok=True)  # damaged or hostile: the next attempt downloads afresh
        raise
    if staging_old is not None:
        shutil.rmtree(staging_old)
    # Only now, with every entry decompressed and CRC-checked, is this zip a reference.
    record = records.get(name)
    if not (isinstance(record, dict) and record.get("verified") and (record.get("size"), record.get("sha256")) == (size, sha)):
        records[name] = {"url": url, "size": size, "sha256": sha, "verified": True,
                         "recorded": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        write_records(root, records)
    missing = [s for s in REFERENCE_SPLITS if not (target / s).is_dir()]
    if missing:
        warnings.warn(f"{target}: no {', '.join(missing)} folder(s); the archive does not use the reference layout")
    if not opts.keep_zip:
        zip_path.unlink()
    return target


def _reference(name: str, record: dict | None) -> dict | None:
    """What the zip must match: the catalog's size/sha256, else the recorded ones; ``trusted``
    is False for a record from an older version that recorded incomplete downloads too."""
    if name in KNOWN_ZIPS:
        size, sha = KNOWN_ZIPS[name]
        return {"size": size, "sha256": sha, "trusted": True, "origin": "the catalog's copy"}
    if not isinstance(record, dict) or not isinstance(record.get("size"), int):
        return None
    return {"size": record["size"], "sha256": record.get("sha256"), "trusted": bool(record.get("verified")),
            "origin": f"the copy recorded on {record.get('recorded', '?')}"}
