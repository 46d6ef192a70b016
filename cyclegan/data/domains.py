"""Turning ``--domainA forest`` or ``--dataroot horse2zebra`` into lists of image files.

A domain is a folder that holds images directly, or in ``train/`` and ``test/`` subfolders.
A bare NAME resolves to ``<datasets_dir>/NAME`` (``--datasets-dir``, else $CYCLEGAN_DATASETS,
else ``./datasets``); anything that looks like a path is used as a path. The reference layout
(``trainA/ trainB/ testA/ testB/`` under one root) is read through ``--dataroot``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError
from .images import list_images


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
        raise UserError(f"{option} {name_or_path}: folder {root} does not exist; create it with images "
                        "(or train/ and test/ subfolders), or point --datasets-dir at the folder that holds it")
    train, test = root / "train", root / "test"
    if train.is_dir():
        return Domain(candidate.name, root, train, test if test.is_dir() else None)
    return Domain(candidate.name, root, root, None)


def resolve_dataroot(dataroot: str) -> tuple[Domain, Domain]:
    root = Path(dataroot).expanduser()
    if not root.is_dir():
        raise UserError(f"--dataroot {dataroot}: folder does not exist")
    missing = [sub for sub in ("trainA", "trainB") if not (root / sub).is_dir()]
    if missing:
        raise UserError(f"--dataroot {dataroot}: missing {' and '.join(missing)}/; the reference layout is "
                        "trainA/ trainB/ (testA/ testB/ optional)")
    def side(letter: str) -> Domain:
        test = root / f"test{letter}"
        return Domain(f"{root.name}{letter}", root, root / f"train{letter}", test if test.is_dir() else None)
    return side("A"), side("B")


def train_images(domain: Domain, option: str) -> list[Path]:
    images = list_images(domain.train_dir)
    if not images:
        raise UserError(f"{option}: no images in {domain.train_dir}; add .jpg/.png files there")
    return images
