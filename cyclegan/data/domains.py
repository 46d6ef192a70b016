"""Turning ``--domainA forest`` or ``--dataroot horse2zebra`` into lists of image files.

A domain is a folder that holds images directly, or in ``train/`` and ``test/`` subfolders.
A bare NAME resolves to ``<datasets_dir>/NAME`` (``--datasets-dir``, else $CYCLEGAN_DATASETS,
else ``./datasets``); anything that looks like a path is used as a path. The reference layout
(``trainA/ trainB/ testA/ testB/`` under one root) is read through ``--dataroot``.

Images in subfolders of a domain's training folder are used, as the reference does; when some
are nested, one line says how many lie at each depth, so a layout mistake shows at once.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError
from .images import find_images, first_decodable, header_readable, nesting_summary, shown


@dataclass(frozen=True)
class Domain:
    name: str
    root: Path
    train_dir: Path
    test_dir: Path | None


def datasets_root(datasets_dir: str | None) -> Path:
    return Path(datasets_dir or os.environ.get("CYCLEGAN_DATASETS") or "datasets")


def resolve_domain(name_or_path: str, datasets_dir: str | None, option: str) -> Domain:
    candidate = Path(name_or_path).expanduser()
    looks_like_path = candidate.is_absolute() or "/" in name_or_path or os.sep in name_or_path \
        or name_or_path.startswith((".", "~"))
    root = candidate if looks_like_path else datasets_root(datasets_dir) / name_or_path
    if not root.is_dir():
        raise UserError(f"{option} {shown(name_or_path)}: folder {shown(root)} does not exist; create it with images "
                        "(or train/ and test/ subfolders), or point --datasets-dir at the folder that holds it")
    train, test = root / "train", root / "test"
    name = shown(candidate.name)  # it names runs and reports: printable text, whatever the file system holds
    if train.is_dir():
        return Domain(name, root, train, test if test.is_dir() else None)
    return Domain(name, root, root, None)


def resolve_dataroot(dataroot: str, phase: str = "train") -> tuple[Domain, Domain]:
    """``--dataroot`` in the reference layout; ``phase`` picks ``<phase>A/ <phase>B/`` (default train)."""
    root = Path(dataroot).expanduser()
    if not root.is_dir():
        raise UserError(f"--dataroot {shown(dataroot)}: folder does not exist")
    missing = [sub for sub in (f"{phase}A", f"{phase}B") if not (root / sub).is_dir()]
    if missing:
        raise UserError(f"--dataroot {shown(dataroot)}: missing {' and '.join(missing)}/; the reference layout is "
                        "trainA/ trainB/ (testA/ testB/ optional)")

    def side(letter: str) -> Domain:
        test = root / f"test{letter}"
        return Domain(f"{shown(root.name)}{letter}", root, root / f"{phase}{letter}", test if test.is_dir() else None)
    return side("A"), side("B")


def train_images(domain: Domain, option: str) -> list[Path]:
    """The domain's training images, subfolders included; a domain none of whose images can be
    decoded (all truncated, say) is refused here, in one line, before any worker starts."""
    # A domain without train/ holds its images at the top; its test/ (if any) is not training data.
    exclude = ("test",) if domain.train_dir == domain.root else ()
    images = find_images(domain.train_dir, exclude)
    if not images:
        raise UserError(f"{option}: no images in {shown(domain.train_dir)}; add .jpg/.png files there")
    summary = nesting_summary(domain.train_dir, images)
    if summary:
        print(f"{option} {shown(domain.train_dir)}: {summary}", file=sys.stderr)
    good, reason = first_decodable(images)
    # Files whose header cannot be read at all are the caller's to skip and count; this catches
    # the domain whose files look like images but are cut short.
    if good is None and any(header_readable(path) for path in images):
        raise UserError(f"{option}: none of the {len(images)} images in {shown(domain.train_dir)} can be decoded "
                        f"(e.g. {reason}); they are truncated or damaged: replace them (`cyclegan-datasets clean "
                        "FOLDER` moves such files aside)")
    return images
