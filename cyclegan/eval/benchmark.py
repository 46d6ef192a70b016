"""The known-answer benchmark: train on demo domains whose true translations are known, measure.

Domain A is crops of the bundled photos, domain B crops of *other* regions through the demo's
fixed stylisation (``cyclegan.data.demo.stylise``), and B's test images are the exact stylised
versions of A's test images under the same names. So after training, every translated test
image can be compared with its truth: PSNR and SSIM of G_A(test A) against test B, next to the
identity baseline (test A itself against test B) and the same network at its initial weights.

``run_benchmark`` trains for a step count (constant learning rate for the first half, linear
decay to zero over the second, like the reference's 100 + 100 epochs) or for a wall-clock
budget (constant rate, trained in chunks of ``CHUNK_STEPS`` and resumed exactly between them,
stopping at the first chunk end past the budget). Only time inside the training loop counts.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..config import Config
from ..data.demo import build_demo_domains
from ..data.images import list_images, load_rgb
from ..device import resolve_device
from ..errors import UserError
from ..metrics import psnr, ssim

CHUNK_STEPS = 25


@dataclass
class BenchmarkSettings:
    steps: int | None = 300           # train this many steps ...
    minutes: float | None = None      # ... or for this long (then steps is ignored)
    lr: float = 2e-4
    batch_size: int = 1
    crop_size: int = 48               # training crop, taken from the demo_size images
    lambda_identity: float = 0.5
    precision: str = "fp32"
    netG: str = "resnet_6blocks"
    ngf: int = 16
    ndf: int = 16
    demo_size: int = 96               # side of every demo image (train and test)
    n_train: int = 60
    n_test: int = 8
    seed: int = 0
    device: str = "cpu"

    def check(self) -> None:
        if self.minutes is None and (self.steps is None or self.steps < 1):
            raise UserError("--steps must be at least 1 (or give --minutes)")
        if self.minutes is not None and self.minutes <= 0:
            raise UserError("--minutes must be positive")
        if self.crop_size > self.demo_size:
            raise UserError(f"--crop-size {self.crop_size} is larger than the demo images ({self.demo_size}); "
                            "raise --demo-size or lower --crop-size")
        if self.batch_size < 1 or self.lr <= 0 or self.lambda_identity < 0:
            raise UserError("--batch-size must be >= 1, --lr > 0 and --lambda-identity >= 0")


@dataclass
class Quality:
    psnr: float   # dB, mean over the test images
    ssim: float


@dataclass
class BenchmarkResult:
    settings: BenchmarkSettings
    steps: int
    train_seconds: float
    test_images: int
    trained: Quality
    untrained: Quality            # the same run's G_A at its initial weights (step 0)
    identity: Quality             # the untranslated input against the truth
    run_dir: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def benchmark_config(s: BenchmarkSettings, domain_A: Path, domain_B: Path, runs_dir: Path) -> Config:
    cfg = Config()
    cfg.model.netG, cfg.model.ngf, cfg.model.ndf = s.netG, s.ngf, s.ndf
    cfg.data.domainA, cfg.data.domainB = str(domain_A), str(domain_B)
    cfg.data.preprocess, cfg.data.load_size, cfg.data.crop_size = "crop", s.demo_size, s.crop_size
    cfg.data.batch_size, cfg.data.num_threads = s.batch_size, 0
    t = cfg.train
    t.lr, t.lambda_identity, t.precision, t.seed, t.device = s.lr, s.lambda_identity, s.precision, s.seed, s.device
    t.checkpoints_dir, t.name = str(runs_dir), "benchmark"
    t.progress = False
    t.print_freq, t.save_latest_freq, t.save_epoch_freq = 50, 10 ** 9, 10 ** 9
    n_batches = math.ceil(s.n_train / s.batch_size)
    if s.minutes is not None:
        t.n_epochs, t.n_epochs_decay = 10 ** 6, 0          # constant rate: the end is not known in advance
    else:
        epochs = math.ceil(s.steps / n_batches)
        t.n_epochs, t.n_epochs_decay = math.ceil(epochs / 2), epochs // 2
        t.max_steps = s.steps
    return cfg


def score_generator(generator, pairs: list[tuple], device) -> Quality:
    """Mean PSNR/SSIM of generator(source) against the truth; ``None`` scores the source itself."""
    from ..translate import translate_image
    outputs = [(translate_image(generator, a, device) if generator is not None else a, b) for a, b in pairs]
    return Quality(float(np.mean([psnr(y, b) for y, b in outputs])), float(np.mean([ssim(y, b) for y, b in outputs])))


def run_benchmark(s: BenchmarkSettings, work_dir: str | Path, log=print) -> BenchmarkResult:
    """Build the demo domains under ``work_dir``, train a fresh run there, score it."""
    from ..train.loop import train
    from ..train.models import build_model
    from ..translate import load_generator

    s.check()
    work_dir = Path(work_dir)
    runs_dir = work_dir / "runs"
    if (runs_dir / "benchmark").exists():
        raise UserError(f"{runs_dir / 'benchmark'} already exists; give a new --work-dir")
    domain_A, domain_B = build_demo_domains(work_dir / "datasets", crop_size=s.demo_size, n_train=s.n_train,
                                            n_test=s.n_test, seed=s.seed)
    cfg = benchmark_config(s, domain_A, domain_B, runs_dir)
    device = resolve_device(s.device)
    truth = {p.name: p for p in list_images(domain_B / "test")}
    pairs = [(load_rgb(p), load_rgb(truth[p.name])) for p in list_images(domain_A / "test")]

    untrained = score_generator(build_model(cfg, device).G_A, pairs, device)   # same seed: the run's step 0
    identity = score_generator(None, pairs, device)

    seconds, steps = 0.0, 0
    if s.minutes is None:
        result = train(cfg)
        seconds, steps = result.seconds, result.step
    else:
        while seconds < 60.0 * s.minutes:
            cfg.train.max_steps, cfg.train.continue_train = steps + CHUNK_STEPS, steps > 0
            result = train(cfg)
            seconds, steps = seconds + result.seconds, result.step
            if result.interrupted:
                break
    log(f"trained {steps} steps in {seconds:.0f} s")
    run_dir = runs_dir / "benchmark"
    trained = score_generator(load_generator(run_dir, "AtoB", device=device), pairs, device)
    return BenchmarkResult(s, steps, seconds, len(pairs), trained, untrained, identity, str(run_dir))


TABLE_HEADER = ("| steps | minutes | lr | batch | crop | lambda_identity | precision | PSNR dB | SSIM | "
                "PSNR step 0 | PSNR identity |")
TABLE_RULE = "|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|"


def table_row(r: BenchmarkResult) -> str:
    s = r.settings
    return (f"| {r.steps} | {r.train_seconds / 60:.1f} | {s.lr:g} | {s.batch_size} | {s.crop_size} | "
            f"{s.lambda_identity:g} | {s.precision} | {r.trained.psnr:.2f} | {r.trained.ssim:.3f} | "
            f"{r.untrained.psnr:.2f} | {r.identity.psnr:.2f} |")
