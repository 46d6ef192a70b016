"""Known-answer quality benchmark: how close does a CycleGAN get to the true translation, how fast?

Builds unpaired demo domains from the bundled photos (B = a fixed stylisation of *other* crops;
B's test images are the exact stylised A test images), trains with the given settings for a
number of steps or minutes, translates the test photos and prints PSNR/SSIM against the truth,
next to the untrained network (step 0) and the identity baseline (the untranslated photos).

    python scripts/benchmark_quality.py --steps 300
    python scripts/benchmark_quality.py --minutes 2 --lr 5e-4 --batch-size 4 --precision bf16
    python scripts/benchmark_quality.py --steps 300 --json          # one JSON object

Each run trains a fresh model in a new temporary folder (or --work-dir). Results go to
docs/BENCHMARKS.md by hand: the script prints a markdown table row.
"""
from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # run from a checkout without installing

from cyclegan.cli.common import Parser, add_option, run_cli  # noqa: E402
from cyclegan.eval.benchmark import TABLE_HEADER, TABLE_RULE, BenchmarkSettings, table_row  # noqa: E402
from cyclegan.train.known_answer import run_benchmark  # noqa: E402

PROG = "benchmark_quality"


def build_parser() -> Parser:
    d = BenchmarkSettings()
    p = Parser(prog=PROG, description="Train on demo domains with a known answer and score the translations.")
    budget = p.add_mutually_exclusive_group()
    add_option(budget, "--steps", type=int, help=f"training steps (default {d.steps}; half constant lr, half decay)")
    add_option(budget, "--minutes", type=float, help="train for this wall-clock budget instead (constant lr)")
    add_option(p, "--lr", type=float, default=d.lr, help=f"Adam learning rate (default {d.lr:g})")
    add_option(p, "--batch-size", type=int, default=d.batch_size, help=f"default {d.batch_size}")
    add_option(p, "--crop-size", type=int, default=d.crop_size, help=f"training crop (default {d.crop_size})")
    add_option(p, "--lambda-identity", type=float, default=d.lambda_identity, help=f"default {d.lambda_identity:g}")
    add_option(p, "--precision", choices=["auto", "fp32", "bf16", "fp16"], default=d.precision,
               help=f"sets the run's --precision (default {d.precision})")
    add_option(p, "--netG", choices=["resnet_6blocks", "resnet_9blocks"], default=d.netG, help=f"default {d.netG}")
    add_option(p, "--ngf", type=int, default=d.ngf, help=f"generator width (default {d.ngf})")
    add_option(p, "--ndf", type=int, default=d.ndf, help=f"discriminator width (default {d.ndf})")
    add_option(p, "--demo-size", type=int, default=d.demo_size, help=f"side of the demo images (default {d.demo_size})")
    add_option(p, "--n-train", type=int, default=d.n_train, help=f"training images per domain (default {d.n_train})")
    add_option(p, "--n-test", type=int, default=d.n_test, help=f"test images (default {d.n_test})")
    add_option(p, "--seed", type=int, default=d.seed, help=f"default {d.seed}")
    add_option(p, "--device", default=d.device, help=f"default {d.device}")
    add_option(p, "--work-dir", help="where to build the domains and the run (default: a new temporary folder)")
    add_option(p, "--json", action="store_true", help="print one JSON object")
    add_option(p, "--no-header", action="store_true", help="print the table row without the header")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_cli(PROG, lambda: _run(args))


def _run(args) -> int:
    settings = BenchmarkSettings(
        steps=None if args.minutes is not None else (args.steps or BenchmarkSettings.steps), minutes=args.minutes,
        lr=args.lr, batch_size=args.batch_size, crop_size=args.crop_size, lambda_identity=args.lambda_identity,
        precision=args.precision, netG=args.netG, ngf=args.ngf, ndf=args.ndf, demo_size=args.demo_size,
        n_train=args.n_train, n_test=args.n_test, seed=args.seed, device=args.device)
    log = lambda message: print(f"{PROG}: {message}", file=sys.stderr)
    if args.work_dir:
        result = run_benchmark(settings, Path(args.work_dir), log)
    else:
        with tempfile.TemporaryDirectory(prefix="cyclegan-benchmark-") as work_dir:
            result = run_benchmark(settings, Path(work_dir), log)
            result.run_dir = ""   # gone with the temporary folder
    if args.json:
        print(json.dumps(result.as_dict(), indent=2))
        return 0
    r = result
    print(f"{r.test_images} test images; PSNR {r.trained.psnr:.2f} dB, SSIM {r.trained.ssim:.3f} after {r.steps} steps "
          f"({r.train_seconds / 60:.1f} min); step 0: {r.untrained.psnr:.2f} dB / {r.untrained.ssim:.3f}; "
          f"identity baseline: {r.identity.psnr:.2f} dB / {r.identity.ssim:.3f}")
    if not args.no_header:
        print(TABLE_HEADER)
        print(TABLE_RULE)
    print(table_row(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
