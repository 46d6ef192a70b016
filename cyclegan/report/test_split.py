"""At the end of a --time run, translate domain A's test split into the run's test_results/.

A run trained against the clock ends with something to look at: every image of domain A's
``test/`` (``testA/`` under --dataroot) translated by the saved G_A (the weight average with
--ema) into ``<run>/test_results/``, same names, PNG, and the first few side by side with their
inputs in ``web/test_results.png``, shown on the report page. Domains without a test split are
skipped; a failure warns and never fails the finished run.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from PIL import Image

from ..data import resolve_domains
from ..data.images import decode_or_skip, list_images, load_rgb
from ..events import RunEnded, RunStarted
from ..inference.generators import load_generator
from ..metrics import RECOLOUR_ONLY, change_beyond_colour_map
from ..runfolder import RunFolder
from ..inference.translate import Translator
from .html_report import write_report

STRIP_ROWS = 6      # test photos in the side-by-side strip
STRIP_SIDE = 128    # each tile's side in the strip


class TestSplitWatcher:
    __test__ = False   # not a pytest class

    def __init__(self):
        self.started: RunStarted | None = None

    def __call__(self, event) -> None:
        match event:
            case RunStarted():
                self.started = event
            case RunEnded(interrupted=False) if self.started is not None:
                run = RunFolder(self.started.run_dir)
                try:
                    translate_test_split(run, self.started.config, self.started.device)
                    if run.report_page.exists():
                        write_report(run.path)
                except Exception as e:   # the run is saved; a missing folder must not fail it
                    warnings.warn(f"could not translate the test split: {e}")


def translate_test_split(run: RunFolder, cfg, device) -> list:
    """Translate domain A's test images with the run's saved G_A into run/test_results; the paths written."""
    domain_A, _ = resolve_domains(cfg.data)
    sources = list_images(domain_A.test_dir) if domain_A.test_dir is not None else []
    if not sources:
        return []
    translator = Translator(load_generator(run, "AtoB", device=device), device=device, tiling=False)
    run.test_results_dir.mkdir(parents=True, exist_ok=True)
    written, rows = [], []
    for source in sources:
        image = decode_or_skip(source, "the test split")
        if image is None:
            continue
        fake = translator.translate_stored(image)
        fake.save(run.test_results_dir / f"{source.stem}.png")
        written.append(run.test_results_dir / f"{source.stem}.png")
        rows.append([image, fake])
    save_strip(rows[:STRIP_ROWS], run.test_strip)
    return written


def mean_change(rows) -> float:
    """Mean |translation - photo| over (photo, translation) pairs, in levels of 255."""
    changes = [np.abs(np.asarray(fake.convert("RGB"), dtype=np.float64) -
                      np.asarray(photo.convert("RGB").resize(fake.size), dtype=np.float64)).mean()
               for photo, fake in rows]
    return float(np.mean(changes)) if changes else 0.0


@dataclass(frozen=True)
class PhotoChange:
    """How much translations changed their photos, in levels of 255: in all, and beyond one colour
    map per photo (about 0 for a recolouring, however strong: ``cyclegan.metrics.beyond_colour_map``)."""
    levels: float
    beyond_colour: float

    @property
    def recolouring(self) -> bool:
        return self.beyond_colour < RECOLOUR_ONLY


def test_split_change(run: RunFolder, cfg) -> PhotoChange | None:
    """How much the run's translations of domain A's test split changed the photos."""
    domain_A, _ = resolve_domains(cfg.data)
    if domain_A.test_dir is None or not run.test_results_dir.is_dir():
        return None
    rows = [_pair(source, run.test_results_dir / f"{source.stem}.png") for source in list_images(domain_A.test_dir)]
    rows = [row for row in rows if row is not None]
    if not rows:
        return None
    return PhotoChange(mean_change(rows), float(np.mean([change_beyond_colour_map(photo, fake) for photo, fake in rows])))


def _pair(source, translated):
    """(photo, translation), or None when either is missing or cannot be decoded (the test split
    skipped that photo, with a warning)."""
    if not translated.is_file():
        return None
    try:
        return load_rgb(source), load_rgb(translated)
    except Exception:  # Pillow raises many types for truncated data
        return None


def save_strip(rows: Sequence[Sequence[Image.Image]], path, side: int = STRIP_SIDE) -> None:
    """One image: a row per test photo, its columns (input, translated[, truth]) side by side."""
    if not rows:
        return
    columns = max(len(row) for row in rows)
    strip = Image.new("RGB", (columns * side + (columns - 1) * 4, len(rows) * side + (len(rows) - 1) * 4), "white")
    for r, row in enumerate(rows):
        for c, image in enumerate(row):
            strip.paste(image.convert("RGB").resize((side, side), Image.Resampling.NEAREST), (c * (side + 4), r * (side + 4)))
    path.parent.mkdir(parents=True, exist_ok=True)
    strip.save(path)
