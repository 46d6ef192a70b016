"""The known-answer benchmark's settings, results and scoring (the training half lives in
``cyclegan.quality.known_answer.run_benchmark``: evaluation imports no training code).

Domain A is crops of the bundled photos, domain B crops of *other* regions through the demo's
fixed stylisation (``cyclegan.data.demo.stylise``), and B's test images are the exact stylised
versions of A's test images under the same names. So after training, every translated test
image can be compared with its truth: PSNR and SSIM of G_A(test A) against test B, next to the
identity baseline (test A itself against test B) and the same network at its initial weights.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..errors import UserError
from ..metrics import psnr, ssim
from ..inference.translate import Translator


@dataclass
class BenchmarkSettings:
    model: str = "cyclegan"           # --model: cyclegan, cut or fastcut (its published defaults)
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
    upsample: str = "transpose"       # --upsample
    ema: float = 0.0                  # --ema (0 = off)
    cycle_warmup: float = 0.0         # --cycle_warmup (0 = off)
    recipe: str = "custom"            # the recipe the settings came from (recorded in the result)
    threads: int | None = None        # torch threads (None: the environment's)
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


def score_generator(generator, pairs: list[tuple], device) -> Quality:
    """Mean PSNR/SSIM of generator(source) against the truth; ``None`` scores the source itself."""
    translate = Translator(generator, device=device, tiling=False).translate_stored if generator is not None else None
    outputs = [(translate(a) if translate is not None else a, b) for a, b in pairs]
    return Quality(float(np.mean([psnr(y, b) for y, b in outputs])), float(np.mean([ssim(y, b) for y, b in outputs])))


TABLE_HEADER = ("| steps | minutes | lr | batch | crop | lambda_identity | precision | PSNR dB | SSIM | "
                "PSNR step 0 | PSNR identity |")
TABLE_RULE = "|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|"


def table_row(r: BenchmarkResult) -> str:
    s = r.settings
    return (f"| {r.steps} | {r.train_seconds / 60:.1f} | {s.lr:g} | {s.batch_size} | {s.crop_size} | "
            f"{s.lambda_identity:g} | {s.precision} | {r.trained.psnr:.2f} | {r.trained.ssim:.3f} | "
            f"{r.untrained.psnr:.2f} | {r.identity.psnr:.2f} |")
