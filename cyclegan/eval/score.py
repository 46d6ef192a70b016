"""Scoring translations: distribution metrics (KID, FID) and paired metrics (PSNR, SSIM, L1, LPIPS).

``score_folders`` compares a folder of generated images with a folder of real ones,
``paired_folders`` compares generated images with the true translations of the same name, and
``score_run`` translates a training run's test split in both directions and scores each
direction against the other domain's test images.
"""
from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from cyclegan.progress import progress_bar
from ..data import resolve_domains
from ..data.images import list_images, load_rgb, readable_images
from ..checkpoint import atomic_write_bytes
from ..errors import UserError
from ..data.pixels import png_bytes
from ..inference.generators import load_generator, run_directions
from ..metrics import KIDResult, fid, kid, mean_l1, psnr, ssim
from ..metrics.paired import SSIM_MIN_SIDE
from ..runfolder import RunFolder
from ..inference.translate import Translator
from .features import FeatureExtractor
from .lpips import LPIPS


@dataclass
class DistributionScore:
    real_count: int
    fake_count: int
    kid: KIDResult
    fid: float
    features: str          # the extractor's full description (network, resizer, comparability)
    comparable: bool


@dataclass
class PairedScore:
    count: int
    psnr: float            # dB, mean over images
    ssim: float | None     # None when every image is smaller than SSIM's window
    l1: float              # mean absolute error, pixels in [0, 1]
    lpips: float | None    # None when its weights are not on this machine
    unmatched: int = 0     # generated images without a target of the same name
    lpips_note: str = ""


@dataclass
class DirectionScore:
    direction: str         # AtoB | BtoA
    source: str            # the test folder that was translated
    real: str              # the test folder of the other domain
    distribution: DistributionScore | None
    paired: PairedScore | None = None


def image_paths(folder: str | Path, option: str) -> list[Path]:
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise UserError(f"{option} {folder}: folder does not exist")
    paths = readable_images(list_images(folder), f"{option} {folder}")
    if not paths:
        raise UserError(f"{option} {folder}: no readable images (.png/.jpg ...) in this folder")
    return paths


def _need_two(count: int, what: str) -> None:
    if count < 2:
        raise UserError(f"{what}: KID and FID need at least 2 images, found {count}")


def distribution_score(real: np.ndarray, fake: np.ndarray, extractor: FeatureExtractor,
                       subsets: int = 100, subset_size: int = 1000) -> DistributionScore:
    """KID and FID between two feature arrays from ``extractor``."""
    return DistributionScore(len(real), len(fake), kid(real, fake, subsets=subsets, subset_size=subset_size),
                             fid(real, fake), extractor.describe(), extractor.comparable)


def folder_features(extractor: FeatureExtractor, paths: list[Path], desc: str | None = None) -> np.ndarray:
    return extractor.features((load_rgb(p) for p in paths), count=len(paths), desc=desc)


def score_folders(real_dir: str | Path, fake_dir: str | Path, extractor: FeatureExtractor,
                  subsets: int = 100, subset_size: int = 1000, progress: bool = True) -> DistributionScore:
    real_paths, fake_paths = image_paths(real_dir, "--real"), image_paths(fake_dir, "--fake")
    _need_two(len(real_paths), f"--real {real_dir}")
    _need_two(len(fake_paths), f"--fake {fake_dir}")
    real = folder_features(extractor, real_paths, "real features" if progress else None)
    fake = folder_features(extractor, fake_paths, "fake features" if progress else None)
    return distribution_score(real, fake, extractor, subsets, subset_size)


def paired_score(pairs: list[tuple[Image.Image, Image.Image, str]], lpips: LPIPS | None = None,
                 unmatched: int = 0) -> PairedScore:
    """Mean PSNR, SSIM, L1 (and LPIPS) over (generated, target, name) triples of equal sizes."""
    if not pairs:
        raise UserError("no generated image has a target of the same name")
    values: dict[str, list[float]] = {"psnr": [], "ssim": [], "l1": [], "lpips": []}
    too_small: dict[str, list[str]] = {"SSIM": [], "LPIPS": []}    # names of images a metric cannot see
    with_lpips = lpips is not None and lpips.model is not None
    for fake, target, name in pairs:
        if fake.size != target.size:
            raise UserError(f"{name}: generated image is {fake.size[0]}x{fake.size[1]} but its target is "
                            f"{target.size[0]}x{target.size[1]}; paired metrics need equal sizes")
        side = min(fake.size)
        values["psnr"].append(psnr(fake, target))
        values["l1"].append(mean_l1(fake, target))
        if side >= SSIM_MIN_SIDE:
            values["ssim"].append(ssim(fake, target))
        else:
            too_small["SSIM"].append(name)
        if with_lpips and side >= lpips.min_side:
            values["lpips"].append(lpips(fake, target))
        elif with_lpips:
            too_small["LPIPS"].append(name)
    _warn_too_small(too_small, len(pairs), {"SSIM": SSIM_MIN_SIDE, "LPIPS": lpips.min_side if lpips else 0})
    mean = lambda v: float(np.mean(v)) if v else None
    return PairedScore(len(pairs), mean(values["psnr"]), mean(values["ssim"]), mean(values["l1"]),
                       mean(values["lpips"]), unmatched, lpips.note if lpips is not None else "")


def _warn_too_small(too_small: dict[str, list[str]], total: int, min_side: dict[str, int]) -> None:
    """One warning per metric that skipped images below its smallest side (PSNR and L1 take any size)."""
    for metric, names in too_small.items():
        if not names:
            continue
        side = min_side[metric]
        which = "all" if len(names) == total else f"{len(names)} of {total}"
        rest = "" if len(names) == total else "; it is the mean over the others"
        warnings.warn(f"{metric} skipped for {which} images (e.g. {names[0]}): it needs at least {side} x {side} "
                      f"pixels{rest}", stacklevel=3)


def paired_folders(fake_dir: str | Path, target_dir: str | Path, lpips: LPIPS | None = None) -> PairedScore:
    fake_paths = image_paths(fake_dir, "--fake")
    target_dir = Path(target_dir).expanduser()
    if not target_dir.is_dir():
        raise UserError(f"--target {target_dir}: folder does not exist")
    # the same stem matches whatever the format: a .png translation of a .jpg target counts
    targets = {p.stem: p for p in list_images(target_dir)}
    matched = [(p, targets[p.stem]) for p in fake_paths if p.stem in targets]
    if not matched:
        raise UserError(f"--target {target_dir}: no image there has the name of an image in --fake {fake_dir}; "
                        "paired metrics match files by name")
    pairs = [(load_rgb(f), load_rgb(t), f.name) for f, t in matched]
    return paired_score(pairs, lpips, unmatched=len(fake_paths) - len(matched))


# --------------------------------------------------------------------------
# a training run
# --------------------------------------------------------------------------


def domain_test_dirs(data, needed_by: str) -> tuple[Path, Path]:
    """The test folders of both domains of ``data`` (a DataConfig); ``needed_by`` names who asks."""
    domain_A, domain_B = resolve_domains(data)
    for domain, option in ((domain_A, "--domainA"), (domain_B, "--domainB")):
        if domain.test_dir is None:
            raise UserError(f"{needed_by} needs test images: {option} {domain.root} has no test/ folder; "
                            "add some test images there")
    return domain_A.test_dir, domain_B.test_dir   # type: ignore[return-value]


def run_test_dirs(run_dir: Path | RunFolder) -> tuple[Path, Path]:
    """The test folders of a run's two domains, from its saved config."""
    run = run_dir if isinstance(run_dir, RunFolder) else RunFolder(run_dir)
    if not run.has_config():
        raise UserError(f"--checkpoint {run.path}: not a training run (no {run.config_file.name})")
    return domain_test_dirs(run.read_config().data, f"--checkpoint {run.path}")


def evaluation_translator(run: RunFolder | Path | str, direction: str, epoch: str = "latest",
                          device: torch.device | str = "cpu") -> Translator:
    """A run's generator as evaluation uses it: every image translated whole, as stored (see
    ``Translator.translate_stored``), so scores never depend on tiling or EXIF tags."""
    return Translator(load_generator(run, direction, epoch, device), device=device, direction=direction,
                      tiling=False)


def _save_translations(fakes: list, folder: Path) -> None:
    """--save-translations: each file written whole (a full disk leaves no torn PNG behind, and
    says so in one line)."""
    for image, source in fakes:
        atomic_write_bytes(folder / f"{source.stem}.png", png_bytes(image))


def score_run(run_dir: str | Path, extractor: FeatureExtractor | None, device: torch.device,
              epoch: str = "latest", paired: bool = False, lpips: LPIPS | None = None,
              max_images: int | None = None, subsets: int = 100, subset_size: int = 1000,
              save_dir: Path | None = None, progress: bool = True) -> list[DirectionScore]:
    """Translate both test splits with the run's generators and score each against the other domain.

    ``paired``: the test splits are aligned (B/test/<name> is the true translation of
    A/test/<name>), so PSNR/SSIM/L1 are computed too. ``extractor`` None skips KID/FID.
    """
    run = RunFolder(run_dir)
    test_A, test_B = run_test_dirs(run)
    results = []
    directions = run_directions(run)   # CUT and FastCUT runs translate A -> B only
    for direction, source_dir, real_dir in (("AtoB", test_A, test_B), ("BtoA", test_B, test_A)):
        if direction not in directions:
            continue
        translator = evaluation_translator(run, direction, epoch, device)
        sources = image_paths(source_dir, f"test split {direction[0]}")[:max_images]
        reals = image_paths(real_dir, f"test split {direction[-1]}")[:max_images]
        fakes = []
        for path in progress_bar(sources, desc=f"translate {direction}", unit="img", leave=False, disable=not progress):
            fakes.append((translator.translate_stored(load_rgb(path)), path))
        if save_dir is not None:
            _save_translations(fakes, Path(save_dir) / direction)
        distribution = None
        if extractor is not None:
            _need_two(len(sources), f"test split {source_dir}")
            _need_two(len(reals), f"test split {real_dir}")
            real = folder_features(extractor, reals, f"real {direction[-1]} features" if progress else None)
            fake = extractor.features((image for image, _ in fakes), count=len(fakes),
                                      desc=f"fake {direction[-1]} features" if progress else None)
            distribution = distribution_score(real, fake, extractor, subsets, subset_size)
        paired_result = None
        if paired:
            truth = {p.stem: p for p in list_images(real_dir)}
            pairs = [(image, load_rgb(truth[p.stem]), p.name) for image, p in fakes if p.stem in truth]
            paired_result = paired_score(pairs, lpips, unmatched=len(fakes) - len(pairs))
        results.append(DirectionScore(direction, str(source_dir), str(real_dir), distribution, paired_result))
    return results


def to_json(obj) -> dict:
    return asdict(obj)


# --------------------------------------------------------------------------
# reports: what cyclegan-eval prints, as one dict
# --------------------------------------------------------------------------


def features_json(extractor: FeatureExtractor) -> dict:
    return {"name": extractor.name, "network": extractor.network, "resizer": extractor.resizer,
            "dim": extractor.dim, "comparable_to_published": extractor.comparable}


def folders_report(fake_dir: str | Path, real_dir: str | Path | None = None, target_dir: str | Path | None = None,
                   extractor: FeatureExtractor | None = None, lpips: LPIPS | None = None, subsets: int = 100,
                   subset_size: int = 1000, progress: bool = True) -> dict:
    """KID/FID of ``fake_dir`` against ``real_dir`` and/or paired metrics against ``target_dir``."""
    report: dict = {}
    if real_dir:
        score = score_folders(real_dir, fake_dir, extractor, subsets, subset_size, progress=progress)
        report.update(real={"dir": str(real_dir), "count": score.real_count},
                      fake={"dir": str(fake_dir), "count": score.fake_count},
                      kid=to_json(score.kid), fid=score.fid)
    if target_dir:
        paired = paired_folders(fake_dir, target_dir, lpips)
        report["paired"] = {"target": str(target_dir), **to_json(paired)}
    if extractor is not None:
        report["features"] = features_json(extractor)
    return report


def run_report(run_dir: str | Path, extractor: FeatureExtractor | None, device: torch.device, epoch: str = "latest",
               paired: bool = False, lpips: LPIPS | None = None, max_images: int | None = None, subsets: int = 100,
               subset_size: int = 1000, save_dir: str | Path | None = None, progress: bool = True) -> dict:
    """``score_run`` as one dict per direction; ``save_dir`` (a new folder) keeps the translations."""
    if save_dir is not None:
        save_dir = Path(save_dir).expanduser()
        if save_dir.exists():
            raise UserError(f"--save-translations {save_dir} already exists; choose a new folder")
    results = score_run(run_dir, extractor, device, epoch=epoch, paired=paired, lpips=lpips, max_images=max_images,
                        subsets=subsets, subset_size=subset_size, save_dir=save_dir, progress=progress)
    directions = {}
    for r in results:
        entry: dict = {"source": r.source, "real": r.real}
        if r.distribution is not None:
            d = r.distribution
            entry.update(fake={"count": d.fake_count}, real_count=d.real_count, kid=to_json(d.kid), fid=d.fid)
        if r.paired is not None:
            entry["paired"] = to_json(r.paired)
        directions[r.direction] = entry
    report = {"run": str(run_dir), "epoch": epoch, "directions": directions}
    if extractor is not None:
        report["features"] = features_json(extractor)
    return report
