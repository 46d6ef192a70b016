"""End-to-end training speed: ``cyclegan-train`` itself (loader, pool, logging, saves, report), not
the bare step, for the reference-equivalent settings and for ours, side by side in one run.

    python scripts/bench_end_to_end.py --size 128 --steps 40 --work-dir /tmp/e2e

Each row trains the paper's CycleGAN (resnet_9blocks, 70x70 PatchGAN, width 64) through the real
command for ``--steps`` steps on the offline demo domains (or ``--dataroot``), and reads the
seconds per step from the run's loss log between the middle step and the last: the loss log (and
the collapse guard, which measures at each of its lines) writes only there, as a real run's
``--print_freq 100`` writes once per 100 steps, and the first half, where ``--compile on``
compiles, is left out (the compile time is shown on its own). Rows:

- ``reference-equivalent``: fp32, eager, no compile: the arithmetic the reference runs;
- ``ours, eager``: ``--precision auto`` (bf16 and channels-last where the CPU or GPU has bf16 units);
- ``ours, compiled``: the same with ``--compile on``.

The table says the CPU, the threads and the date. Runs are sequential, so run it on an otherwise
idle machine.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROWS = [  # (label, extra cyclegan-train options)
    ("reference-equivalent (fp32, eager)", ["--precision", "fp32", "--compile", "off"]),
    ("ours, eager (--precision auto)", ["--precision", "auto", "--compile", "off"]),
    ("ours, compiled (--compile on)", ["--precision", "auto", "--compile", "on"]),
]


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def cpu_flags() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    return ", ".join(f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in flags) or "no AVX2"


def domains(args, work: Path) -> list[str]:
    if args.dataroot:
        return ["--dataroot", args.dataroot, "--preprocess", "resize_and_crop",
                "--load_size", str(round(args.size * 286 / 256)), "--crop_size", str(args.size)]
    from cyclegan.data.demo import build_demo_domains
    domain_A, domain_B = build_demo_domains(work / "domains", crop_size=args.size, n_train=args.images,
                                            n_test=2, seed=0)
    return ["--domainA", str(domain_A), "--domainB", str(domain_B), "--preprocess", "crop",
            "--load_size", str(args.size), "--crop_size", str(args.size)]


def run_row(index: int, data: list[str], args, work: Path) -> dict:
    label, extra = ROWS[index]
    name, half = f"row{index}", args.steps // 2
    command = [sys.executable, "-m", "cyclegan.cli.train", *data, "--recipe", "paper", "--max-steps", str(2 * half),
               "--print_freq", str(half), "--no-progress", "--display", "none", "--no_html", "--name", name,
               "--checkpoints_dir", str(work / "runs"), "--save_latest_freq", str(10 ** 6),
               "--save_epoch_freq", str(10 ** 6), *extra,
               *(["--num_threads", str(args.workers)] if args.workers is not None else [])]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{label}: cyclegan-train failed:\n{done.stderr[-2000:]}")
    times = {entry["step"]: entry["time"] for entry in map(json.loads, (work / "runs" / name / "loss_log.jsonl")
                                                            .read_text().splitlines()) if "time" in entry}
    per_step = (times[2 * half] - times[half]) / half
    compiled = re.search(r"compiled .* in (\d+) s", done.stderr)
    return {"label": label, "per_step": per_step, "compile": int(compiled.group(1)) if compiled else 0, "wall": wall}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", type=int, default=128, help="crop size (default 128)")
    p.add_argument("--steps", type=int, default=40, help="steps per row; the second half is timed (default 40)")
    p.add_argument("--images", type=int, default=24, help="demo images per domain (default 24)")
    p.add_argument("--dataroot", help="a folder in the reference layout instead of the demo domains")
    p.add_argument("--workers", type=int, help="cyclegan-train --num_threads (default: its own default)")
    p.add_argument("--rows", default="0,1,2", help="which rows to run, by index (default all: 0,1,2)")
    p.add_argument("--work-dir", help="where the runs go (default: a temporary folder)")
    args = p.parse_args(argv)
    if args.steps < 4:
        p.error("--steps must be at least 4 (the second half is timed)")
    with tempfile.TemporaryDirectory() as temporary:
        work = Path(args.work_dir or temporary)
        work.mkdir(parents=True, exist_ok=True)
        data = domains(args, work)
        rows = [run_row(int(i), data, args, work) for i in args.rows.split(",")]
    import torch
    threads = os.environ.get("OMP_NUM_THREADS") or str(torch.get_num_threads())
    print(f"{cpu_name()} ({cpu_flags()}), {os.cpu_count()} cores, {threads} threads, torch {torch.__version__}, "
          f"{datetime.date.today()}; cyclegan-train --recipe paper at {args.size} px, batch 1, steps "
          f"{args.steps // 2}-{args.steps // 2 * 2} timed, "
          f"{'default' if args.workers is None else args.workers} loader workers")
    print("| setting | s/step | compile s | speed-up |")
    print("|---|---:|---:|---:|")
    base = rows[0]["per_step"]
    for row in rows:
        print(f"| {row['label']} | {row['per_step']:.3f} | {row['compile']} | {base / row['per_step']:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
