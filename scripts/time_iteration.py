"""Seconds per CycleGAN training iteration on this machine, printed as a table.

    python scripts/time_iteration.py --sizes 128 256 --netG resnet_9blocks --ngf 64 --steps 5

Times the real training step (four networks, both optimisers, pools) on random batches,
median of --steps iterations after --warmup, in fp32 eager mode.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from cyclegan.config import Config
from cyclegan.train.cyclegan_step import CycleGAN


def time_step(size: int, batch: int, netG: str, ngf: int, ndf: int, steps: int, warmup: int) -> float:
    cfg = Config()
    cfg.model.netG, cfg.model.ngf, cfg.model.ndf = netG, ngf, ndf
    model = CycleGAN(cfg, torch.device("cpu"))
    a, b = torch.randn(batch, 3, size, size), torch.randn(batch, 3, size, size)
    times = []
    for i in range(warmup + steps):
        start = time.perf_counter()
        model.train_step(a, b)
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--netG", default="resnet_9blocks")
    p.add_argument("--ngf", type=int, default=64)
    p.add_argument("--ndf", type=int, default=64)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    args = p.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, fp32 eager, batch {args.batch}, "
          f"{args.netG} ngf {args.ngf} ndf {args.ndf}")
    print(f"{'size':>6} {'s/iter':>8} {'iter/s':>8}")
    for size in args.sizes:
        seconds = time_step(size, args.batch, args.netG, args.ngf, args.ndf, args.steps, args.warmup)
        print(f"{size:>6} {seconds:>8.3f} {1 / seconds:>8.2f}")


if __name__ == "__main__":
    main()
