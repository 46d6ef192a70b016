"""``cyclegan-sample``: images from a trained ``--model dcgan`` run.

    cyclegan-sample --checkpoint checkpoints/abstract_dcgan -n 64 --output samples/
    cyclegan-sample --checkpoint RUN -n 64 --output DIR --grid --seed 3     # one 8x8 grid.png
    cyclegan-sample --checkpoint RUN -n 16 --output DIR --interpolate --seed 3 --end-seed 9
    cyclegan-sample --checkpoint RUN -n 64 --output DIR --oversample 2     # the 64 of 128 D rates most real

Existing files are never replaced unless ``--overwrite`` is given. Images are written batch by
batch, so any -n runs in the same memory; a --grid or --oversample that cannot fit is refused first.
"""
from __future__ import annotations

import sys

from ..device import resolve_device
from ..inference.sample import write_samples
from .common import Parser, add_option, run_cli

PROG = "cyclegan-sample"


def build_parser() -> Parser:
    p = Parser(prog=PROG, description="Generate images with a trained DCGAN run (cyclegan-train --model dcgan).")
    add_option(p, "--checkpoint", required=True,
               help="the run folder (uses latest_net_G.pth), or one <epoch>_net_G.pth file inside it")
    p.add_argument("-n", "--n", "--num", dest="n", type=int, default=64,
                   help="how many images (with --interpolate: frames of the walk, ends included; default 64)")
    add_option(p, "--output", "-o", required=True, help="folder to write into (created if missing)")
    add_option(p, "--grid", action="store_true", help="write one grid image instead of separate files")
    add_option(p, "--seed", type=int, help="seed of the latent noise (default: a random one, printed)")
    add_option(p, "--interpolate", action="store_true",
               help="a latent walk from --seed's first image to --end-seed's (spherical interpolation)")
    add_option(p, "--end_seed", type=int, help="the walk's end for --interpolate (default --seed + 1)")
    add_option(p, "--oversample", type=float, default=1.0,
               help="draw this many times -n candidates and keep the -n that the run's discriminator "
                    "rates most real (discriminator-filtered sampling; default 1: keep every image)")
    add_option(p, "--nrow", type=int, help="images per grid row (default: as square as possible)")
    add_option(p, "--device", default="auto", help="auto, cpu, cuda or mps (default auto)")
    add_option(p, "--overwrite", action="store_true", help="replace files that already exist")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_cli(PROG, lambda: _run(args))


def _run(args) -> int:
    done = write_samples(args.checkpoint, args.output, args.n, seed=args.seed, grid=args.grid, nrow=args.nrow,
                         interpolate=args.interpolate, end_seed=args.end_seed, oversample=args.oversample,
                         overwrite=args.overwrite, device=resolve_device(args.device))
    print(f"{PROG}: wrote {done.what} to {done.where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
