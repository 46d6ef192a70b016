"""Checkerboard level of a known-answer benchmark's translations, next to the truth's and the inputs'.

    python scripts/benchmark_quality.py --recipe fast --upsample transpose --steps 1400 --seed 1 \\
        --demo-size 64 --crop-size 64 --work-dir runs/transpose_s1
    python scripts/checkerboard_index.py runs/transpose_s1 runs/fast_s1

Each argument is a ``--work-dir`` of ``scripts/benchmark_quality.py``: the run's saved A -> B
generator translates the demo's test photos, and the script prints the mean
``cyclegan.metrics.checkerboard_level`` (x 1000) of the translations, of the true stylised photos
and of the untranslated photos. PSNR hardly sees a faint grid-locked pattern; this does.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # run from a checkout without installing

from cyclegan.cli.common import Parser, run_cli  # noqa: E402
from cyclegan.data.images import list_images, load_rgb  # noqa: E402
from cyclegan.errors import UserError  # noqa: E402
from cyclegan.inference.generators import load_generator  # noqa: E402
from cyclegan.metrics import checkerboard_level  # noqa: E402
from cyclegan.runfolder import RunFolder  # noqa: E402
from cyclegan.inference.translate import Translator  # noqa: E402

PROG = "checkerboard_index"


def levels(run: RunFolder, work_dir: Path) -> dict[str, float]:
    """Mean checkerboard level (x 1000) of the translations, the truth and the inputs."""
    test_A, truth_B = work_dir / "datasets" / "demo_photos" / "test", work_dir / "datasets" / "demo_paintings" / "test"
    if not run.has_config() or not test_A.is_dir():
        raise UserError(f"{work_dir}: not a benchmark_quality --work-dir (no runs/benchmark or datasets/)")
    translate = Translator(load_generator(run, "AtoB", device="cpu"), device="cpu", tiling=False).translate_stored
    photos = list_images(test_A)
    mean = lambda values: 1000 * sum(values) / len(values)
    return {"translated": mean([checkerboard_level(translate(load_rgb(p))) for p in photos]),
            "truth": mean([checkerboard_level(load_rgb(truth_B / p.name)) for p in photos]),
            "untranslated": mean([checkerboard_level(load_rgb(p)) for p in photos])}


def _run(args) -> int:
    print("| work dir | netG | upsample | translated | truth | untranslated |")
    print("|---|---|---|---:|---:|---:|")
    for work_dir in map(Path, args.work_dirs):
        run = RunFolder(work_dir / "runs" / "benchmark")
        found = levels(run, work_dir)
        cfg = run.read_config()
        print(f"| {work_dir.name} | {cfg.model.netG} | {cfg.model.upsample} | {found['translated']:.2f} | "
              f"{found['truth']:.2f} | {found['untranslated']:.2f} |")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = Parser(prog=PROG, description="Checkerboard level of benchmark translations (x 1000).")
    p.add_argument("work_dirs", nargs="+", help="benchmark_quality --work-dir folders")
    return run_cli(PROG, lambda: _run(p.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
