"""``cyclegan-datasets info NAME``: counts, sizes and duplicates of a dataset folder."""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cyclegan.progress import progress_bar
from ..data.images import list_images
from ..scrape.hygiene import DEFAULT_DEDUPE_DISTANCE, Rejected, decode_image, perceptual_hash, sha256_hex
from .folders import image_splits, side_of


@dataclass
class SplitStats:
    split: str
    count: int = 0
    unreadable: int = 0
    widths: list[int] = field(default_factory=list)
    heights: list[int] = field(default_factory=list)
    formats: Counter = field(default_factory=Counter)

    def size_range(self, values: list[int]) -> str:
        return f"{min(values)}-{max(values)}" if values else "-"


@dataclass
class DatasetInfo:
    root: Path
    splits: list[SplitStats]
    exact_groups: list[list[str]]               # files with identical bytes
    near_pairs: list[tuple[str, str, int]]      # (file, file, distance), not exact copies
    distance: int

    @property
    def cross_split(self) -> int:
        """Duplicate pairs that straddle train and test: test images the model has seen."""
        def split(f): return f.split("/")[0] if "/" in f else "."
        pairs = [(a, b) for group in self.exact_groups for a, b in zip(group, group[1:])]
        pairs += [(a, b) for a, b, _ in self.near_pairs]
        return sum(1 for a, b in pairs if split(a).startswith("train") != split(b).startswith("train"))


def popcount64(values: np.ndarray) -> np.ndarray:
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(values)
    return np.unpackbits(values.view(np.uint8).reshape(-1, 8), axis=1).sum(axis=1)


def near_duplicate_pairs(items: list[tuple[str, str]], distance: int) -> list[tuple[str, str, int]]:
    """Pairs of (name, hex phash) within ``distance`` bits of each other."""
    if len(items) < 2:
        return []
    hashes = np.array([int(h, 16) for _, h in items], dtype=np.uint64)
    pairs = []
    for i in range(len(items) - 1):
        distances = popcount64(hashes[i + 1:] ^ hashes[i])
        for j in np.nonzero(distances <= distance)[0]:
            pairs.append((items[i][0], items[i + 1 + int(j)][0], int(distances[j])))
    return pairs


def survey(root: Path, distance: int = DEFAULT_DEDUPE_DISTANCE, progress: bool = True) -> DatasetInfo:
    splits = image_splits(root)
    files = [(split, path) for split, folder in splits for path in list_images(folder)]
    stats = {split: SplitStats(split) for split, _ in splits}
    by_sha: dict[tuple[str, str], list[str]] = defaultdict(list)
    hashes: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for split, path in progress_bar(files, desc=f"info {root.name}", unit="img", disable=not progress):
        name = path.name if split == "." else f"{split}/{path.name}"
        s = stats[split]
        s.count += 1
        data = path.read_bytes()
        try:
            image, fmt = decode_image(data, min_size=1)
        except Rejected:
            s.unreadable += 1
            continue
        s.widths.append(image.width)
        s.heights.append(image.height)
        s.formats[fmt] += 1
        by_sha[(side_of(split), sha256_hex(data))].append(name)
        hashes[side_of(split)].append((name, perceptual_hash(image)))
    exact = [group for group in by_sha.values() if len(group) > 1]
    exact_pairs = {frozenset((a, b)) for group in exact for a in group for b in group if a != b}
    near = [pair for side_items in hashes.values() for pair in near_duplicate_pairs(side_items, distance)
            if frozenset(pair[:2]) not in exact_pairs]
    return DatasetInfo(root, [stats[split] for split, _ in splits], exact, near, distance)


def format_info(info: DatasetInfo) -> str:
    lines = [f"{info.root.name} ({info.root})",
             f"{'split':<8} {'images':>7} {'unreadable':>10}  {'width':<11} {'height':<11} formats"]
    for s in info.splits:
        formats = ", ".join(f"{k} {v}" for k, v in s.formats.most_common()) or "-"
        lines.append(f"{s.split:<8} {s.count:>7} {s.unreadable:>10}  {s.size_range(s.widths):<11} "
                     f"{s.size_range(s.heights):<11} {formats}")
    total = sum(s.count for s in info.splits)
    lines.append(f"{'total':<8} {total:>7} {sum(s.unreadable for s in info.splits):>10}")
    copies = sum(len(g) - 1 for g in info.exact_groups)
    lines.append(f"exact duplicates: {copies} extra cop{'y' if copies == 1 else 'ies'}"
                 + (f", e.g. {' = '.join(info.exact_groups[0][:3])}" if info.exact_groups else ""))
    lines.append(f"near duplicates (perceptual hash within {info.distance} bits): {len(info.near_pairs)} pair(s)"
                 + (f", e.g. {info.near_pairs[0][0]} ~ {info.near_pairs[0][1]} ({info.near_pairs[0][2]})"
                    if info.near_pairs else ""))
    lines.append(f"duplicates shared by train and test: {info.cross_split}")
    if copies or info.near_pairs or any(s.unreadable for s in info.splits):
        lines.append(f"`cyclegan-datasets clean {info.root.name}` moves unreadable, too small and duplicate images aside")
    return "\n".join(lines)
