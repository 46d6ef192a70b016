"""Speed of training and translation, measured against this machine's own peak.

For each image size and batch size, one training iteration (four networks, both optimisers,
pools) is timed for

* ``eager-fp32``: the reference's structure, plain eager fp32, contiguous tensors, stock Adam;
* ``fast``: what ``cyclegan-train`` does by default here (``--precision auto``, channels-last with
  low precision, fused Adam; ``--compile`` adds torch.compile),

as the median of N iterations after warm-up, for CycleGAN and, next to it, CUT and FastCUT
(``--models``: one generator and one discriminator plus PatchNCE, each mode with its published
settings). FLOPs per iteration are counted by PyTorch's
FlopCounterMode (convolutions and matmuls, forward and backward), and the achieved FLOP/s is
stated as a fraction of a peak measured in the same run (a large matmul in the same precision).
Each configuration runs in a fresh process so its peak RSS is its own.
"""
from __future__ import annotations

import multiprocessing as mp
import resource
import statistics
import sys
import time
import warnings
from dataclasses import dataclass

import torch
from torch.utils.flop_counter import FlopCounterMode

from ..config import Config
from ..device import resolve_device
from ..nets import create_generator
from ..precision import Precision, describe_precision, resolve_precision
from ..training.cut_step import CUT
from ..training.cyclegan_step import CycleGAN
from ..models import CARDS, DEFAULT_MODEL, with_model_defaults

MODELS = tuple(name for name, card in CARDS.items() if card.translates)   # the translators' steps are timed


@dataclass
class Row:
    task: str            # train | translate
    path: str            # eager-fp32 | fast
    precision: str
    size: int
    batch: int
    seconds: float       # per iteration (train) or per batch (translate)
    flops: float         # per iteration / batch
    peak_rss_mb: float
    cuda_peak_mb: float
    model: str = DEFAULT_MODEL


def measure_peak_flops(precision: Precision, device: torch.device, n: int = 4096, repeats: int = 5) -> float:
    """FLOP/s of a large square matmul in the given precision: the practical ceiling for convolutions."""
    dtype = precision.dtype if precision.name != "fp32" else torch.float32
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    times = []
    for i in range(repeats + 1):
        _sync(device)
        start = time.perf_counter()
        a @ b
        _sync(device)
        if i:
            times.append(time.perf_counter() - start)
    return 2 * n ** 3 / min(times)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _bench_config(netG: str, ngf: int, ndf: int, precision: str) -> Config:
    cfg = Config()
    cfg.model.netG, cfg.model.ngf, cfg.model.ndf = netG, ngf, ndf
    cfg.train.precision = precision
    return cfg


def _count_flops(fn) -> float:
    with FlopCounterMode(display=False) as counter:
        fn()
    return float(counter.get_total_flops())


def _time(fn, device: torch.device, steps: int, warmup: int) -> float:
    times = []
    for i in range(warmup + steps):
        _sync(device)
        start = time.perf_counter()
        fn()
        _sync(device)
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def _model_config(model_name: str, netG: str, ngf: int, ndf: int, precision: str) -> Config:
    """The bench's networks with the model's published settings (its CLI preset)."""
    return with_model_defaults(_bench_config(netG, ngf, ndf, precision), model_name)


def _train_row(path: str, size: int, batch: int, netG: str, ngf: int, ndf: int, device_name: str,
               steps: int, warmup: int, compile_: bool, model_name: str = DEFAULT_MODEL,
               fast_precision: str = "auto") -> Row:
    device = resolve_device(device_name)
    if model_name != DEFAULT_MODEL:   # CUT and FastCUT: one generator, its own optimisers
        cfg = _model_config(model_name, netG, ngf, ndf, "fp32" if path == "eager-fp32" else fast_precision)
        model = CUT(cfg, device)
        if path == "eager-fp32":  # stock Adam, as the public code builds it
            t = cfg.train
            stock = lambda net: torch.optim.Adam(net.parameters(), lr=t.lr, betas=(t.beta1, t.beta2))
            model.optimizer_G, model.optimizer_D, model.optimizer_F = stock(model.G), stock(model.D), stock(model.F)
        a, b = torch.rand(batch, 3, size, size) * 2 - 1, torch.rand(batch, 3, size, size) * 2 - 1
        step = lambda: model.train_step(a, b)
        flops = _count_flops(step)
        seconds = _time(step, device, steps, warmup)
        return Row("train", path, model.precision.name, size, batch, seconds, flops, *_memory(device), model_name)
    cfg = _bench_config(netG, ngf, ndf, "fp32" if path == "eager-fp32" else fast_precision)
    model = CycleGAN(cfg, device)
    if path == "eager-fp32":  # stock Adam, as the reference builds it
        t = cfg.train
        model.optimizer_G = torch.optim.Adam(list(model.G_A.parameters()) + list(model.G_B.parameters()),
                                             lr=t.lr, betas=(t.beta1, t.beta2))
        model.optimizer_D = torch.optim.Adam(list(model.D_A.parameters()) + list(model.D_B.parameters()),
                                             lr=t.lr, betas=(t.beta1, t.beta2))
    elif compile_:
        model.compile_networks()
    a, b = torch.rand(batch, 3, size, size) * 2 - 1, torch.rand(batch, 3, size, size) * 2 - 1
    step = lambda: model.train_step(a, b)
    with warnings.catch_warnings():   # compiled: the first call compiles (and warns of the FLOP counter's hooks)
        warnings.simplefilter("ignore")
        flops = _count_flops(step)
    seconds = _time(step, device, steps, warmup)
    return Row("train", path, model.precision.name, size, batch, seconds, flops, *_memory(device))


def _translate_row(path: str, size: int, batch: int, netG: str, ngf: int, device_name: str,
                   steps: int, warmup: int, fast_precision: str = "auto") -> Row:
    device = resolve_device(device_name)
    precision = resolve_precision("fp32" if path == "eager-fp32" else fast_precision, device)
    generator = create_generator(netG, input_nc=3, output_nc=3, ngf=ngf, norm="instance", use_dropout=False)
    generator = generator.to(device, memory_format=precision.memory_format).eval()
    x = (torch.rand(batch, 3, size, size) * 2 - 1).to(device, memory_format=precision.memory_format)

    @torch.inference_mode()
    def run():
        with precision.autocast():
            generator(x)
    flops = _count_flops(run)
    seconds = _time(run, device, steps, warmup)
    return Row("translate", path, precision.name, size, batch, seconds, flops, *_memory(device))


def _memory(device: torch.device) -> tuple[float, float]:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    cuda = torch.cuda.max_memory_allocated(device) / 2 ** 20 if device.type == "cuda" else 0.0
    return rss, cuda


def _in_fresh_process(fn, *args) -> Row:
    """Run one measurement in its own process, so peak memory and caches are its own."""
    context = mp.get_context("spawn")
    with context.Pool(1) as pool:
        return pool.apply(fn, args)


def run_benchmark(sizes=(128, 256), batches=(1, 4), translate_sizes=(256, 1024), netG="resnet_9blocks",
                  ngf=64, ndf=64, device_name="auto", steps=5, warmup=2, compile_=False, out=sys.stdout,
                  models=MODELS, paths=("eager-fp32", "fast"), precision="auto") -> list[Row]:
    """``models``: which models' training iterations to time (translation is the same generator
    for all); ``paths``: eager-fp32 and/or fast; ``precision``: the fast path's (fp32 compares
    the models' arithmetic alone)."""
    device = resolve_device(device_name)
    fast = resolve_precision(precision, device)
    fp32 = resolve_precision("fp32", device)
    peaks = {"fp32": measure_peak_flops(fp32, device)}
    if fast.name != "fp32":
        peaks[fast.name] = measure_peak_flops(fast, device)
    print(f"torch {torch.__version__} on {device}, {torch.get_num_threads()} threads; fast path: "
          f"{describe_precision(fast)}{', compiled' if compile_ else ''}", file=out)
    if device.type == "cpu" and fast.name == "fp32" and precision == "auto":
        print("this CPU has no native bf16 (no AVX512-BF16/AMX): the fast path stays fp32", file=out)
    print("measured peak (4096x4096 matmul): " + ", ".join(f"{k} {v / 1e9:.0f} GFLOP/s" for k, v in peaks.items()),
          file=out)
    print(f"model: {netG} ngf {ngf} + 70x70 PatchGAN ndf {ndf}; median of {steps} after {warmup} warm-up", file=out)
    header = (f"{'model':<9}{'task':<10}{'path':<12}{'prec':<6}{'size':>6}{'batch':>6}{'s/iter':>9}{'img/s':>8}"
              f"{'GFLOP/it':>10}{'GFLOP/s':>9}{'of peak':>8}{'RSS MB':>8}{'CUDA MB':>9}{'speedup':>8}")
    print(header, file=out)
    rows: list[Row] = []
    plans = [("train", size, batch, model) for size in sizes for batch in batches for model in models]
    plans += [("translate", size, 1, "-") for size in translate_sizes]
    for task, size, batch, model_name in plans:
        baseline = None
        for path in paths:
            if task == "train":
                row = _in_fresh_process(_train_row, path, size, batch, netG, ngf, ndf, device_name, steps, warmup,
                                        compile_, model_name, precision)
            else:
                row = _in_fresh_process(_translate_row, path, size, batch, netG, ngf, device_name, steps, warmup,
                                        precision)
                row.model = "-"
            rows.append(row)
            baseline = baseline or row.seconds
            achieved = row.flops / row.seconds
            print(f"{row.model:<9}{row.task:<10}{row.path:<12}{row.precision:<6}{row.size:>6}{row.batch:>6}{row.seconds:>9.3f}"
                  f"{row.batch / row.seconds:>8.2f}{row.flops / 1e9:>10.0f}{achieved / 1e9:>9.0f}"
                  f"{achieved / peaks[row.precision]:>8.0%}{row.peak_rss_mb:>8.0f}{row.cuda_peak_mb:>9.0f}"
                  f"{baseline / row.seconds:>7.2f}x", file=out, flush=True)
    return rows
