"""Known-answer quality benchmark: how close does a CycleGAN get to the true translation, how fast?

Builds unpaired demo domains from the bundled photos (B = a fixed stylisation of *other* crops;
B's test images are the exact stylised A test images), trains with the given settings for a
number of steps or minutes, translates the test photos and prints PSNR/SSIM against the truth,
next to the untrained network (step 0) and the identity baseline (the untranslated photos).

    python scripts/benchmark_quality.py --steps 300
    python scripts/benchmark_quality.py --minutes 2 --lr 5e-4 --batch-size 4 --precision bf16
    python scripts/benchmark_quality.py --steps 300 --json          # one JSON object
    python scripts/benchmark_quality.py --recipe fast --threads 1 --steps 4200 --demo-size 64 --crop-size 64
    python scripts/benchmark_quality.py --recipe paper --threads 1 --time-steps 5   # seconds per step only
    python scripts/benchmark_quality.py --model fastcut --threads 1 --steps 900 --demo-size 64 --crop-size 64

--model cut|fastcut trains CUT or FastCUT from their published settings (as --recipe paper does
for CycleGAN; the translation scored is G(test A)). --recipe starts every setting from a
cyclegan-train recipe (paper: the reference's CycleGAN, resnet_9blocks at width 64; fast: see cyclegan/compose/presets.py); flags given win over it. Without
--recipe the settings are this script's small defaults below. --time-steps N times N training
steps (after one warm-up step) and prints seconds per step, nothing else: the protocol of
docs/BENCHMARKS.md measures speed that way, in isolation, then trains a step budget (--steps),
which gives the same result however loaded the machine is.

Each run trains a fresh model in a new temporary folder (or --work-dir). Results go to
docs/BENCHMARKS.md by hand: the script prints a markdown table row.
"""
from __future__ import annotations

import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # run from a checkout without installing

import torch  # noqa: E402

from cyclegan.cli.common import Parser, add_option, run_cli  # noqa: E402
from cyclegan.config import Config  # noqa: E402
from cyclegan.errors import UserError  # noqa: E402
from cyclegan.nets import GENERATORS, UPSAMPLING  # noqa: E402
from cyclegan.compose.presets import RECIPES, recipe_settings  # noqa: E402
from cyclegan.eval.benchmark import TABLE_HEADER, TABLE_RULE, BenchmarkSettings, table_row  # noqa: E402
from cyclegan.quality.known_answer import benchmark_config, run_benchmark  # noqa: E402

PROG = "benchmark_quality"


def build_parser() -> Parser:
    d = BenchmarkSettings()
    p = Parser(prog=PROG, description="Train on demo domains with a known answer and score the translations.")
    budget = p.add_mutually_exclusive_group()
    add_option(budget, "--steps", type=int, help=f"training steps (default {d.steps}; half constant lr, half decay)")
    add_option(budget, "--minutes", type=float, help="train for this wall-clock budget instead (constant lr)")
    add_option(budget, "--time-steps", type=int, help="only time this many steps (after a warm-up step): s/step")
    add_option(p, "--model", choices=["cyclegan", "cut", "fastcut"], default=d.model,
               help="the model to train, from its published defaults (default cyclegan; cut and fastcut "
               "take --recipe paper, their own published settings)")
    add_option(p, "--recipe", choices=list(RECIPES), help="start from a cyclegan-train recipe (default: the "
               "script's own small settings below)")
    add_option(p, "--threads", type=int, help="torch threads (default: the environment's; the protocol uses 1)")
    add_option(p, "--lr", type=float, help=f"Adam learning rate (default {d.lr:g})")
    add_option(p, "--batch-size", type=int, help=f"default {d.batch_size}")
    add_option(p, "--crop-size", type=int, help=f"training crop (default {d.crop_size})")
    add_option(p, "--lambda-identity", type=float, help=f"default {d.lambda_identity:g}")
    add_option(p, "--precision", choices=["auto", "fp32", "bf16", "fp16"],
               help=f"sets the run's --precision (default {d.precision})")
    add_option(p, "--netG", choices=list(GENERATORS), help=f"default {d.netG}")
    add_option(p, "--ngf", type=int, help=f"generator width (default {d.ngf})")
    add_option(p, "--ndf", type=int, help=f"discriminator width (default {d.ndf})")
    add_option(p, "--upsample", choices=list(UPSAMPLING), help=f"generator upsampling (default {d.upsample})")
    add_option(p, "--ema", type=float, help="average of the generators' weights with this decay, saved and "
               f"scored (default {d.ema:g} = off)")
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


RECIPE_FIELDS = ("netG", "ngf", "ndf", "upsample", "ema", "lr", "lambda_identity", "batch_size", "cycle_warmup")


def settings_from(args) -> BenchmarkSettings:
    """The script's defaults, under the recipe's values (--recipe), under the flags given."""
    values: dict = {"model": args.model}
    recipe_name = args.recipe
    if args.model != "cyclegan":
        if recipe_name not in (None, "paper"):
            raise UserError(f"--recipe {recipe_name} is a recipe for --model cyclegan; give --model {args.model} "
                            "--recipe paper (its published settings)")
        recipe_name = "paper"   # the script's small CycleGAN defaults mean nothing for CUT
    if recipe_name is not None:
        defaults = Config().flat()
        recipe = {**{f: defaults[f] for f in RECIPE_FIELDS}, **recipe_settings(recipe_name)}
        values.update({f: recipe[f] for f in RECIPE_FIELDS}, recipe=recipe_name)
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(BenchmarkSettings)
             if f.name not in ("steps", "minutes", "recipe", "model") and getattr(args, f.name, None) is not None}
    values.update(given)
    if recipe_name is not None and set(given) & set(RECIPE_FIELDS):
        values["recipe"] = f"{recipe_name}, " + ", ".join(f"{k} {given[k]}" for k in RECIPE_FIELDS if k in given)
    steps = None if args.minutes is not None else (args.steps or BenchmarkSettings.steps)
    return BenchmarkSettings(steps=steps, minutes=args.minutes, **values)


def _run(args) -> int:
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    settings = settings_from(args)
    if args.time_steps is not None:
        return _time_steps(settings, args.time_steps, args.json)
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


def _time_steps(s: BenchmarkSettings, n: int, as_json: bool) -> int:
    """Seconds per training step of these settings, on random images of the benchmark's size."""
    from cyclegan.training.registry import model_entry
    cfg = benchmark_config(s, Path("A"), Path("B"), Path("runs"))
    model = model_entry(s.model).build(cfg, torch.device(s.device), 0)
    shape = (s.batch_size, 3, s.crop_size, s.crop_size)
    a, b = torch.rand(shape) * 2 - 1, torch.rand(shape) * 2 - 1
    model.train_step(a, b)   # warm-up: first-call allocations and kernel choices
    start = time.perf_counter()
    for _ in range(n):
        model.train_step(a, b)
    seconds = (time.perf_counter() - start) / n
    per_minute = 60.0 / seconds
    if as_json:
        print(json.dumps({"model": s.model, "recipe": s.recipe, "seconds_per_step": seconds,
                          "threads": torch.get_num_threads()}))
    else:
        print(f"{s.model} {s.recipe}: {seconds:.3f} s/step on {torch.get_num_threads()} thread(s); 5 min = "
              f"{round(5 * per_minute)} steps, 15 min = {round(15 * per_minute)} steps")
    return 0


if __name__ == "__main__":
    sys.exit(main())
