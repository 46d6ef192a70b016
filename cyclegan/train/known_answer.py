"""Scoring a run on a test split whose true translations are known (the demo, benchmarks)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..checkpoint import CONFIG_FILE
from ..config import Config
from ..data.images import list_images, load_rgb
from ..device import resolve_device
from ..errors import UserError
from ..metrics import psnr
from ..translate import load_generator, translate_image
from .cyclegan_step import CycleGAN


@dataclass
class KnownAnswerScore:
    count: int
    translated_psnr: float   # mean PSNR of G_A(test A) against the true B
    baseline_psnr: float     # mean PSNR of the untranslated test A against the true B
    untrained_psnr: float    # the same run's G_A at its initial weights, for scale
    output_dir: Path


def score_known_answer(run_dir: Path, test_A: Path, truth_B: Path, output_dir: Path,
                       device: str = "auto") -> KnownAnswerScore:
    """Translate every image of ``test_A`` and compare it with the file of the same name in ``truth_B``."""
    device_ = resolve_device(device)
    generator = load_generator(run_dir, "AtoB", device=device_)
    pairs = [(p, Path(truth_B) / p.name) for p in list_images(test_A) if (Path(truth_B) / p.name).is_file()]
    if not pairs:
        raise UserError(f"no test images in {test_A} have a counterpart of the same name in {truth_B}")
    output_dir.mkdir(parents=True, exist_ok=True)
    untrained = CycleGAN(Config.load_json(Path(run_dir) / CONFIG_FILE), device_).G_A  # same seed, same init
    translated, baseline, before = [], [], []
    for source, truth in pairs:
        image, target = load_rgb(source), load_rgb(truth)
        fake = translate_image(generator, image, device_)
        fake.save(output_dir / f"{source.stem}.png")
        translated.append(psnr(fake, target))
        baseline.append(psnr(image, target))
        before.append(psnr(translate_image(untrained, image, device_), target))
    mean = lambda values: sum(values) / len(values)
    return KnownAnswerScore(len(pairs), mean(translated), mean(baseline), mean(before), output_dir)
