"""``cyclegan-sample``: images from a trained ``--model dcgan`` run.

    cyclegan-sample --checkpoint checkpoints/abstract_dcgan -n 64 --output samples/
    cyclegan-sample --checkpoint RUN -n 64 --output DIR --grid --seed 3     # one 8x8 grid.png
    cyclegan-sample --checkpoint RUN -n 16 --output DIR --interpolate --seed 3 --end-seed 9
    cyclegan-sample --checkpoint RUN -n 64 --output DIR --oversample 2     # the 64 of 128 D rates most real

Existing files are never replaced unless ``--overwrite`` is given.
"""
from __future__ import annotations

import sys
from pathlib import Path

from ..errors import UserError
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


def planned_files(n: int, grid: bool, interpolate: bool) -> list[str]:
    if grid:
        return ["interpolation.png" if interpolate else "grid.png"]
    stem = "interp" if interpolate else "sample"
    width = max(3, len(str(n - 1)))
    return [f"{stem}_{i:0{width}d}.png" for i in range(n)]


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_cli(PROG, lambda: _run(args))


def _run(args) -> int:
    import torch

    from ..checkpoint import atomic_write_bytes
    from ..device import resolve_device
    from ..sample import (candidates, image_grid, interpolate_latents, load_dcgan_discriminator,
                          load_dcgan_generator, png_bytes, sample, sample_latents, to_pil)

    if args.n < 1:
        raise UserError(f"-n {args.n}: ask for at least one image")
    if args.interpolate and args.n < 2:
        raise UserError("-n must be at least 2 with --interpolate (the walk's two ends)")
    if args.nrow is not None and args.nrow < 1:
        raise UserError(f"--nrow {args.nrow} must be at least 1")
    if args.oversample != 1.0 and args.interpolate:
        raise UserError("--oversample does not apply to --interpolate (a walk keeps every frame)")
    if args.end_seed is not None and not args.interpolate:
        raise UserError("--end-seed only applies with --interpolate")
    drawn = candidates(args.n, args.oversample)  # checks --oversample
    output = Path(args.output).expanduser()
    if output.exists() and not output.is_dir():
        raise UserError(f"--output {output} is a file; give a folder")
    names = planned_files(args.n, args.grid, args.interpolate)
    existing = [name for name in names if (output / name).exists()]
    if existing and not args.overwrite:
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        raise UserError(f"--output {output}: {existing[0]} already exists{more}; "
                        "choose another folder or add --overwrite")

    device = resolve_device(args.device)
    G = load_dcgan_generator(args.checkpoint, device)
    D = load_dcgan_discriminator(args.checkpoint, device) if drawn > args.n else None
    seed = args.seed if args.seed is not None else int(torch.randint(0, 2**31 - 1, (1,)).item())
    if args.interpolate:
        end_seed = args.end_seed if args.end_seed is not None else seed + 1
        z = interpolate_latents(G.nz, seed, end_seed, args.n)
        what = f"a {args.n}-step walk from seed {seed} to seed {end_seed}"
        images = sample_latents(G, z, device)
    else:
        images = sample(G, args.n, seed, device, discriminator=D, oversample=args.oversample)
        what = f"{args.n} samples with seed {seed}"
        if D is not None:
            what += f" (the {args.n} of {drawn} the discriminator rates most real)"

    output.mkdir(parents=True, exist_ok=True)
    if args.grid:
        atomic_write_bytes(output / names[0], png_bytes(image_grid(images, nrow=args.nrow)))
    else:
        for name, image in zip(names, images):
            atomic_write_bytes(output / name, png_bytes(to_pil(image)))
    where = output / names[0] if args.grid else output
    print(f"{PROG}: wrote {what} to {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
