"""``<run>/web/index.html``: what a run did, readable from disk or a file share.

Self-contained: images under ``web/images/`` and the progression next to the page, linked by
relative paths; the loss plot is inline SVG; no script and no external URL. Sections: last
checkpoint and its step, progression animation, loss plot, per-epoch image rows (newest first,
A side then B side, like the reference's page), the run's config.
"""
from __future__ import annotations

import json
import re
import shutil
import time
from html import escape
from pathlib import Path
from urllib.parse import quote

from ..checkpoint import atomic_write_bytes
from ..config import Config
from ..data.pixels import png_bytes
from ..loss_log import read_log
from ..models import card_of
from ..runfolder import RunFolder
from .svg_plot import line_chart
from .visuals import grid_columns

NOT_LOSSES = {"step", "epoch", "lr", "time"}
VISUAL_ORDER = ("real_A", "fake_B", "rec_A", "idt_B", "real_B", "fake_A", "rec_B", "idt_A")
_IMAGE_FILE = re.compile(r"^epoch(\d+)_(.+)\.png$")
_SAMPLE_FILE = re.compile(r"^epoch_(\d+)\.png$")


def save_epoch_visuals(run_dir: Path, epoch: int, images: dict) -> None:
    """``web/images/epoch<NNN>_<name>.png`` for each named image (the reference's file names)."""
    run = RunFolder(run_dir)
    for name, image in images.items():
        atomic_write_bytes(run.web_image(epoch, name), png_bytes(image))


def copy_dcgan_samples(run_dir: Path) -> None:
    """DCGAN runs keep their grids in ``samples/``; the page links copies so ``web/`` stands alone."""
    run = RunFolder(run_dir)
    samples = run.samples_dir
    if not samples.is_dir():
        return
    images = run.web_images_dir
    for path in samples.iterdir():
        match = _SAMPLE_FILE.match(path.name)
        if not match:
            continue
        target = images / f"epoch{int(match.group(1)):03d}_samples.png"
        if not target.exists() or target.stat().st_mtime < path.stat().st_mtime:
            images.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)


def write_report(run_dir: Path) -> Path:
    """(Re)write ``web/index.html`` from what the run folder holds now."""
    run = RunFolder(run_dir)
    cfg = run.read_config() if run.has_config() else Config()
    if not card_of(cfg).translates:   # a model that draws from noise: its fixed-noise grids
        copy_dcgan_samples(run.path)
    records = read_log(run.log_file)
    body = [f"<h1>{escape(run.path.name)}</h1>",
            f'<p class="updated">report written {escape(time.strftime("%Y-%m-%d %H:%M:%S"))}</p>',
            _checkpoint_section(run), _test_strip_section(run), _progression_section(run), _plots_section(records),
            _epoch_rows_section(run), _config_section(cfg)]
    page = ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{escape(run.path.name)}: training report</title>\n<style>{_CSS}</style>\n</head>\n"
            "<body>\n" + "\n".join(part for part in body if part) + "\n</body>\n</html>\n")
    atomic_write_bytes(run.report_page, page.encode("utf-8"))
    return run.report_page


def _checkpoint_section(run: RunFolder) -> str:
    latest_files = run.latest_files()
    if not latest_files:
        return '<h2>Checkpoint</h2><p id="checkpoint">no checkpoint saved yet</p>'
    saved = run.saved_progress()
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(saved.saved)) if saved.saved else "unknown time"
    step = "unknown" if saved.step is None else str(saved.step)
    epoch = "" if saved.epoch is None else f", next epoch {saved.epoch}"
    kept = ", ".join(str(e) for e in run.kept_epochs()) or "none"
    return ('<h2>Checkpoint</h2>\n<table id="checkpoint">'
            f'<tr><th>last checkpoint</th><td>{escape(", ".join(latest_files))}</td></tr>'
            f'<tr><th>step</th><td class="step">{escape(step)}</td></tr>'
            f'<tr><th>saved</th><td>{escape(when)}{escape(epoch)}</td></tr>'
            f'<tr><th>kept epochs</th><td>{escape(kept)}</td></tr></table>')


def _test_strip_section(run: RunFolder) -> str:
    if not run.test_strip.is_file():
        return ""
    return ('<h2>Test photos</h2>\n<p>each row: a test photo and its translation (the demo adds the true '
            'painting)</p>\n<img class="test-strip" src="test_results.png" alt="test photos translated">')


def _progression_section(run: RunFolder) -> str:
    parts = []
    if run.progression_animation("gif").is_file():
        parts.append('<img class="progression" src="progression.gif" alt="training progression">')
    if run.progression_animation("mp4").is_file():
        parts.append('<p><a href="progression.mp4">progression.mp4</a></p>')
    return "<h2>Progression</h2>\n" + "\n".join(parts) if parts else ""


GUARD_KEYS = ("G_change", "G_beyond_colour", "D_tells")


def _plots_section(records: list[dict]) -> str:
    losses: dict[str, tuple[list[float], list[float]]] = {}
    kid: dict[str, tuple[list[float], list[float]]] = {}
    guard: dict[str, tuple[list[float], list[float]]] = {}   # the identity-collapse guard's measures
    for record in records:
        x = record.get("epoch")
        if not isinstance(x, (int, float)):
            continue
        for key, value in record.items():
            if key in NOT_LOSSES or not isinstance(value, (int, float)):
                continue
            target = kid if "kid" in key.lower() else guard if key in GUARD_KEYS else losses
            xs, ys = target.setdefault(key, ([], []))
            xs.append(float(x))
            ys.append(float(value))
    parts = ["<h2>Losses</h2>", line_chart(losses, "training losses", "epoch", "loss")]
    if kid:
        parts.append(line_chart(kid, "KID (lower is better)", "epoch", "KID"))
    if "G_change" in guard:   # near 0 all along: the generator hands its input back
        changes = {key: guard[key] for key in ("G_change", "G_beyond_colour") if key in guard}
        parts.append(line_chart(changes, "how much G changes the photos (beyond_colour: more than a recolouring)",
                                "epoch", "mean |G(x) - x|, levels of 255"))
    if "D_tells" in guard:
        parts.append(line_chart({"D_tells": guard["D_tells"]}, "D's margin between real B and translations",
                                "epoch", "D(real B) - D(G(x))"))
    return "\n".join(parts)


def _epoch_rows_section(run: RunFolder) -> str:
    by_epoch: dict[int, dict[str, str]] = {}
    images = run.web_images_dir
    if images.is_dir():
        for path in images.iterdir():
            match = _IMAGE_FILE.match(path.name)
            if match:
                by_epoch.setdefault(int(match.group(1)), {})[match.group(2)] = f"images/{quote(path.name)}"
    if not by_epoch:
        return ""
    parts = ["<h2>Images per epoch</h2>"]
    for epoch in sorted(by_epoch, reverse=True):
        named = by_epoch[epoch]
        names = sorted(named, key=lambda n: (VISUAL_ORDER.index(n) if n in VISUAL_ORDER else len(VISUAL_ORDER), n))
        columns = grid_columns(names)
        parts.append(f'<h3>epoch [{epoch}]</h3>\n<table class="epoch" data-epoch="{epoch}">')
        for start in range(0, len(names), columns):
            cells = "".join(f'<td><a href="{named[n]}"><img src="{named[n]}" alt="{escape(n)}"></a>'
                            f"<br>{escape(n)}</td>" for n in names[start:start + columns])
            parts.append(f"<tr>{cells}</tr>")
        parts.append("</table>")
    return "\n".join(parts)


def _config_section(cfg: Config) -> str:
    return ('<h2>Config</h2>\n<pre id="config">'
            f"{escape(json.dumps(cfg.to_dict(), indent=2))}</pre>")


_CSS = """
body { font-family: sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; }
#checkpoint th { text-align: left; padding-right: 1em; }
table.epoch td { text-align: center; padding: 4px; font-size: 12px; vertical-align: top; }
table.epoch img { width: 128px; image-rendering: pixelated; }
img.progression { width: 640px; max-width: 100%; image-rendering: pixelated; }
pre { background: #f6f6f6; padding: 0.8em; font-size: 12px; }
.updated { color: #777; font-size: 12px; }
"""
