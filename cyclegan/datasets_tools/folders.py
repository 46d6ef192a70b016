"""Finding a dataset folder and its image splits, whatever its layout."""
from __future__ import annotations

import os
from pathlib import Path

from ..data.domains import datasets_root
from ..data.images import list_images
from ..errors import UserError

# Train splits first, so that when a file is also in a test split the train copy is the one kept.
SPLIT_ORDER = ("train", "trainA", "trainB", "test", "testA", "testB")


def resolve_folder(name_or_path: str, datasets_dir: str | None) -> Path:
    """NAME under the datasets folder, or a path given as such (like --domainA)."""
    candidate = Path(name_or_path).expanduser()
    looks_like_path = candidate.is_absolute() or "/" in name_or_path or os.sep in name_or_path \
        or name_or_path.startswith((".", "~"))
    root = candidate if looks_like_path else datasets_root(datasets_dir) / name_or_path
    if not root.is_dir():
        raise UserError(f"{name_or_path}: folder {root} does not exist (see --datasets-dir)")
    return root


def image_splits(root: Path) -> list[tuple[str, Path]]:
    """(split name, folder) for every folder of the dataset that holds images directly."""
    splits = [(".", root)] if list_images(root) else []
    splits += [(name, root / name) for name in SPLIT_ORDER if (root / name).is_dir()]
    if not splits:
        raise UserError(f"{root}: no images, and none of {', '.join(SPLIT_ORDER)}/ subfolders")
    return splits


def side_of(split: str) -> str:
    """'A' / 'B' for the reference layout's two domains, '' for a single domain's splits."""
    return split[-1] if split.endswith(("A", "B")) else ""
