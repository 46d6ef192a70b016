"""``--compile auto|on|off``: torch.compile the networks, with a cache that outlives the run.

Compilation costs minutes before the first step. Inductor keeps compiled graphs in a cache
directory; we point it at a persistent per-user folder (not /tmp) so a resumed or repeated run
with the same shapes loads them instead of compiling again.
"""
from __future__ import annotations

import logging
import os
import time
import warnings
from pathlib import Path
from typing import Callable, Iterable

import torch
from torch import nn

from ..errors import UserError

# auto compiles on CUDA only for runs long enough to repay a few minutes of compilation.
AUTO_MIN_STEPS_CUDA = 2000
# Under --time the compilation's minutes come out of the budget (its first step holds them): on an
# H200, 74 s of a 2-minute budget went to compiling. auto compiles only budgets it can repay.
AUTO_MIN_BUDGET_CUDA_S = 20 * 60
# On a CPU, compiling pays only in bf16 (AVX-512 bf16 or AMX): measured on an AMD EPYC with
# AVX512-BF16, one thread (scripts/bench_end_to_end.py, docs/BENCHMARKS.md), the paper's networks at
# 128 px step 1.18x faster compiled in bf16 but only 1.04x in fp32, and the fast recipe's small
# networks at 64 px 1.07x; compiling took 88 s (less from the cache). The small networks repay that
# only after about 13,000 steps, so auto compiles long runs only: a full paper schedule (200 epochs
# of a 1,000-image domain is 200,000 steps), not the demo or a short --time run.
AUTO_MIN_STEPS_CPU_BF16 = 20_000
AUTO_MIN_BUDGET_CPU_BF16_S = 2 * 60 * 60


def compile_choice(setting: str, device: torch.device, total_steps: int,
                   time_budget: float | None = None, precision: str = "fp32") -> tuple[bool, str]:
    """Whether to torch.compile, and why (what ``--compile auto`` says it chose). ``precision``:
    the arithmetic the run trains in (on a CPU, only bf16 steps gain from compiling)."""
    if setting not in ("auto", "on", "off"):
        raise UserError(f"--compile {setting!r}: choose auto, on or off")
    if setting != "auto":
        return setting == "on", f"--compile {setting}"
    if device.type == "cuda":
        min_steps, min_budget = AUTO_MIN_STEPS_CUDA, AUTO_MIN_BUDGET_CUDA_S
    elif device.type == "cpu" and precision == "bf16":
        min_steps, min_budget = AUTO_MIN_STEPS_CPU_BF16, AUTO_MIN_BUDGET_CPU_BF16_S
    else:
        return False, (f"--compile auto: not compiling on the {device.type.upper()} in {precision} (compiled steps "
                       "were hardly faster: 1.04x)")
    if time_budget is not None:
        if time_budget < min_budget:
            return False, (f"--compile auto: not compiling, a --time budget of {time_budget / 60:.0f} min is too "
                           f"short to repay compilation (auto compiles from {min_budget // 60} min)")
        return True, "--compile auto: compiling; its time counts against the --time budget"
    if total_steps < min_steps:
        return False, f"--compile auto: not compiling {total_steps} steps (auto compiles from {min_steps})"
    return True, f"--compile auto: compiling for {total_steps} steps"


def should_compile(setting: str, device: torch.device, total_steps: int, time_budget: float | None = None,
                   precision: str = "fp32") -> bool:
    return compile_choice(setting, device, total_steps, time_budget, precision)[0]


def compile_cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "cyclegan" / "torchinductor"


def compile_module(net: nn.Module) -> nn.Module:
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(compile_cache_dir()))
    quiet_compiler()
    return torch.compile(net)


def quiet_compiler() -> None:
    """No compiler chatter at start: dynamo and inductor log graph breaks and recompilations as
    warnings, each with lines of the step's source, and cpp_extension says it found no CUDA. None of
    it is the user's to act on; the run says once what was compiled and how long it took."""
    torch._logging.set_logs(dynamo=logging.ERROR, inductor=logging.ERROR, aot=logging.ERROR)
    for name in ("torch.utils.cpp_extension", "torch._dynamo", "torch._inductor"):
        logging.getLogger(name).setLevel(logging.ERROR)


def report_first_call(step: Callable, names: Iterable[str], say: Callable[[str], None]) -> Callable:
    """``step``, whose first call (where torch.compile compiles) runs without warnings and ends with
    one line: what was compiled and how long the first step took."""
    names = ", ".join(names)
    done = False

    def first_then_plain(*args, **kwargs):
        nonlocal done
        if done:
            return step(*args, **kwargs)
        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = step(*args, **kwargs)
        done = True
        say(f"compiled {names} in {time.perf_counter() - started:.0f} s (the first step; later runs with the "
            f"same shapes reuse {compile_cache_dir()})")
        return result
    return first_then_plain
