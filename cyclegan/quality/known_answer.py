"""Training against a known answer: demo domains whose true translations are known.

``score_known_answer`` scores a run on a test split whose true translations are known (the
demo's test photos). ``run_benchmark`` is the training half of the known-answer benchmark behind
``scripts/benchmark_quality.py`` (its settings, results and scoring live in
``cyclegan.eval.benchmark``, which imports no training code): it trains a model of the registry
(CycleGAN, CUT or FastCUT, from its published defaults) for a step count (constant learning rate,
then linear decay to zero, split as the model's epochs split: half and half like the reference's
100 + 100, three quarters constant for FastCUT's 150 + 50) or for a wall-clock budget (constant
rate, trained in chunks of ``CHUNK_STEPS`` and resumed exactly between them, stopping at the
first chunk end past the budget). Only time inside the training loop counts.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from ..config import Config
from ..data.demo import build_demo_domains
from ..data.images import list_images, load_rgb
from ..device import resolve_device
from ..errors import UserError
from ..eval.benchmark import BenchmarkResult, BenchmarkSettings, score_generator
from ..eval.score import evaluation_translator
from ..inference.generators import load_generator
from ..metrics import psnr
from ..report.html_report import write_report
from ..report.test_split import STRIP_ROWS, save_strip
from ..runfolder import RunFolder
from ..inference.translate import Translator
from ..training.loop import run_training
from ..models import CARDS, with_model_defaults
from ..training.registry import model_entry

CHUNK_STEPS = 25


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
    run = RunFolder(run_dir)
    translator = evaluation_translator(run, "AtoB", device=device_)
    pairs = [(p, Path(truth_B) / p.name) for p in list_images(test_A) if (Path(truth_B) / p.name).is_file()]
    if not pairs:
        raise UserError(f"no test images in {test_A} have a counterpart of the same name in {truth_B}")
    output_dir.mkdir(parents=True, exist_ok=True)
    untrained = Translator(initial_generator(run.read_config(), device_), device=device_, tiling=False)  # same seed
    translated, baseline, before, rows = [], [], [], []
    for source, truth in pairs:
        image, target = load_rgb(source), load_rgb(truth)
        fake = translator.translate_stored(image)
        fake.save(output_dir / f"{source.stem}.png")
        translated.append(psnr(fake, target))
        baseline.append(psnr(image, target))
        before.append(psnr(untrained.translate_stored(image), target))
        rows.append([image, fake, target])
    save_strip(rows[:STRIP_ROWS], run.test_strip)   # input, ours, truth: on the report page
    if run.report_page.exists():
        write_report(run.path)
    mean = lambda values: sum(values) / len(values)
    return KnownAnswerScore(len(pairs), mean(translated), mean(baseline), mean(before), output_dir)


# --------------------------------------------------------------------------- the benchmark's training half

def initial_generator(cfg: Config, device):
    """The A->B generator of a fresh model of ``cfg`` (the run's step 0: same seed, same init)."""
    entry = model_entry(cfg.model.model)
    return getattr(entry.build(cfg, device, 0), entry.card.generator_for("AtoB"))


def constant_share(model: str) -> float:
    """The share of a schedule at a constant rate for ``model``: its epochs over all of them
    (CycleGAN 100 + 100: 0.5; FastCUT 150 + 50: 0.75), as ``--time`` splits the clock."""
    t = with_model_defaults(Config(), model).train
    return t.n_epochs / (t.n_epochs + t.n_epochs_decay)


def benchmark_config(s: BenchmarkSettings, domain_A: Path, domain_B: Path, runs_dir: Path) -> Config:
    translators = [name for name, card in CARDS.items() if card.translates]
    if s.model not in translators:
        raise UserError(f"--model {s.model}: the known-answer benchmark trains a translation model "
                        f"({', '.join(translators)})")
    cfg = with_model_defaults(Config(), s.model)   # the model's published settings
    cfg.model.netG, cfg.model.ngf, cfg.model.ndf, cfg.model.upsample = s.netG, s.ngf, s.ndf, s.upsample
    cfg.train.ema = s.ema
    for key, value in (("cycle_warmup", s.cycle_warmup), ("lambda_identity", s.lambda_identity)):
        if hasattr(cfg.model, key):   # CycleGAN's losses; CUT has neither
            setattr(cfg.model, key, value)
    cfg.data.domainA, cfg.data.domainB = str(domain_A), str(domain_B)
    cfg.data.preprocess, cfg.data.load_size, cfg.data.crop_size = "crop", s.demo_size, s.crop_size
    cfg.data.batch_size, cfg.data.num_threads = s.batch_size, 0
    t = cfg.train
    t.lr, t.precision, t.seed, t.device = s.lr, s.precision, s.seed, s.device
    t.checkpoints_dir, t.name = str(runs_dir), "benchmark"
    t.progress = False
    t.print_freq, t.save_latest_freq, t.save_epoch_freq = 50, 10 ** 9, 10 ** 9
    n_batches = math.ceil(s.n_train / s.batch_size)
    if s.minutes is not None:
        t.n_epochs, t.n_epochs_decay = 10 ** 6, 0          # constant rate: the end is not known in advance
    else:
        epochs = math.ceil(s.steps / n_batches)
        t.n_epochs = math.ceil(epochs * constant_share(s.model))
        t.n_epochs_decay = epochs - t.n_epochs
        t.max_steps = s.steps
    return cfg


def run_benchmark(s: BenchmarkSettings, work_dir: str | Path, log=print) -> BenchmarkResult:
    """Build the demo domains under ``work_dir``, train a fresh run there, score it."""
    s.check()
    work_dir = Path(work_dir)
    runs_dir = work_dir / "runs"
    run = RunFolder.under(runs_dir, "benchmark")
    if run.path.exists():
        raise UserError(f"{run.path} already exists; give a new --work-dir")
    domain_A, domain_B = build_demo_domains(work_dir / "datasets", crop_size=s.demo_size, n_train=s.n_train,
                                            n_test=s.n_test, seed=s.seed)
    cfg = benchmark_config(s, domain_A, domain_B, runs_dir)
    device = resolve_device(s.device)
    truth = {p.name: p for p in list_images(domain_B / "test")}
    pairs = [(load_rgb(p), load_rgb(truth[p.name])) for p in list_images(domain_A / "test")]

    untrained = score_generator(initial_generator(cfg, device), pairs, device)   # same seed: the run's step 0
    identity = score_generator(None, pairs, device)

    seconds, steps = 0.0, 0
    if s.minutes is None:
        result = run_training(cfg)
        seconds, steps = result.seconds, result.step
        if result.interrupted:   # a score of part of the budget would pass for the whole
            raise UserError(f"training stopped at step {steps} of {s.steps}: no score (run again)")
    else:
        while seconds < 60.0 * s.minutes:
            cfg.train.max_steps, cfg.train.continue_train = steps + CHUNK_STEPS, steps > 0
            result = run_training(cfg)
            seconds, steps = seconds + result.seconds, result.step
            if result.interrupted:
                break
    log(f"trained {steps} steps in {seconds:.0f} s")
    trained = score_generator(load_generator(run, "AtoB", device=device), pairs, device)
    return BenchmarkResult(s, steps, seconds, len(pairs), trained, untrained, identity, str(run.path))
