"""Seconds per training iteration of CycleGAN, CUT and FastCUT, timed fairly on a shared machine.

    OMP_NUM_THREADS=1 python scripts/bench_models_interleaved.py --sizes 64 128 256 --rounds 3

Builds the three models with their published settings (resnet_9blocks, width 64, the known-answer
benchmark's config: ``cyclegan.quality.known_answer.benchmark_config``) in one process and
alternates their iterations, one of each per round, after one untimed round. Whatever else the
machine does then slows all three alike, so the ratios hold where ``cyclegan-bench``'s separate
processes, run one after the other, would see different loads. Prints the median seconds per
iteration and the ratio to CycleGAN for each size, and, for 64x64, the step budgets of the
known-answer comparison (docs/BENCHMARKS.md): the CycleGAN paper recipe's 187 and 561 steps (5 and
15 minutes) scaled by each model's ratio.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # run from a checkout without installing

import torch  # noqa: E402

from cyclegan.eval.benchmark import BenchmarkSettings  # noqa: E402
from cyclegan.quality.known_answer import benchmark_config  # noqa: E402
from cyclegan.training.registry import model_entry  # noqa: E402

MODEL_NAMES = ("cyclegan", "cut", "fastcut")
PAPER_BUDGETS = {"5 min": 187, "15 min": 561}   # the paper recipe's steps at 64x64 (docs/BENCHMARKS.md)


def time_models(size: int, rounds: int, ngf: int = 64) -> dict[str, float]:
    """Median seconds per training iteration of each model at ``size``, batch 1, interleaved."""
    models = {}
    for name in MODEL_NAMES:
        s = BenchmarkSettings(model=name, netG="resnet_9blocks", ngf=ngf, ndf=ngf, lr=2e-4, demo_size=size,
                              crop_size=size)
        cfg = benchmark_config(s, Path("A"), Path("B"), Path("runs"))
        models[name] = model_entry(name).build(cfg, torch.device("cpu"), 0)
    a, b = torch.rand(1, 3, size, size) * 2 - 1, torch.rand(1, 3, size, size) * 2 - 1
    times: dict[str, list[float]] = {name: [] for name in models}
    for round_ in range(rounds + 1):
        for name, model in models.items():
            start = time.perf_counter()
            model.train_step(a, b)
            if round_:   # the first round warms up allocations and kernel choices
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256])
    p.add_argument("--rounds", type=int, default=3, help="timed rounds after one untimed (default 3)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument("--ngf", type=int, default=64, help="generator and discriminator width (default 64)")
    args = p.parse_args(argv)
    if args.rounds < 1 or min(args.sizes) < 32 or args.threads < 1:
        p.error("--rounds and --threads must be >= 1 and every size >= 32")
    torch.set_num_threads(args.threads)
    print("| size | model | s/iter | ratio to CycleGAN | steps at 5 / 15 min |")
    print("|---:|---|---:|---:|---|")
    for size in args.sizes:
        seconds = time_models(size, args.rounds, args.ngf)
        for name, s in seconds.items():
            ratio = s / seconds["cyclegan"]
            budgets = " / ".join(str(round(n / ratio)) for n in PAPER_BUDGETS.values()) if size == 64 else ""
            print(f"| {size} | {name} | {s:.3f} | {ratio:.3f} | {budgets} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
