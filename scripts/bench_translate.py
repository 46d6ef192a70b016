"""Translation speed: images/s for ResNet-9 (ngf 64) at 256x256 and 1024x1024, fp32 and bf16.

    python scripts/bench_translate.py                  # CPU, and CUDA when available
    python scripts/bench_translate.py --repeats 5 --include-slow

Each cell is the median of ``--repeats`` timed calls of ``Translator.translate_tensor`` on one
random image after one warm-up call (the path cyclegan-translate takes: padding, autocast,
channels-last for bf16). 1024x1024 fits in one tile at ngf 64, so no tiling is involved.
On a CPU without native bf16 (no AVX512-BF16/AMX) bf16 convolutions take a slow reference
path; those cells are skipped unless ``--include-slow`` (they take minutes).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings

import torch

from cyclegan.nets import create_generator
from cyclegan.precision import cpu_has_fast_bf16
from cyclegan.inference.translate import Translator


def time_cell(device: str, precision: str, size: int, repeats: int) -> float:
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the slow-bf16 warning: the table says it
        translator = Translator(create_generator("resnet_9blocks", ngf=64), device=device, precision=precision)
    x = torch.rand(1, 3, size, size, device=device) * 2 - 1
    times = []
    for i in range(repeats + 1):
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        translator.translate_tensor(x)
        if device == "cuda":
            torch.cuda.synchronize()
        if i:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--sizes", type=int, nargs="+", default=[256, 1024])
    p.add_argument("--include-slow", action="store_true", help="also time bf16 on CPUs without native bf16")
    args = p.parse_args(argv)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, native CPU bf16: {cpu_has_fast_bf16()}")
    print(f"{'device':<8}{'precision':<11}{'size':>10}{'s/image':>10}{'images/s':>10}")
    for device in devices:
        for precision in ("fp32", "bf16"):
            for size in args.sizes:
                label = f"{device:<8}{precision:<11}{f'{size}x{size}':>10}"
                if device == "cpu" and precision == "bf16" and not cpu_has_fast_bf16() and not args.include_slow:
                    print(f"{label}  skipped: no native bf16 (slow path; --include-slow times it)")
                    continue
                seconds = time_cell(device, precision, size, args.repeats)
                print(f"{label}{seconds:>10.3f}{1 / seconds:>10.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
