"""``cyclegan-translate``: translate photos at full resolution with a trained generator.

    cyclegan-translate photo.jpg                              newest run under checkpoints/, AtoB
    cyclegan-translate photos/ "more/*.jpg" --checkpoint checkpoints/forest2abstract --direction BtoA
    cyclegan-translate big.tif --checkpoint latest_net_G.pth  a reference pretrained generator

Outputs go to ``results/<run>/`` (or ``--output``) under the input's name; an existing file is
never replaced without ``--overwrite``. Unreadable inputs are reported by name and skipped; the
exit code is 2 when any input failed.
"""
from __future__ import annotations

import sys
from pathlib import Path

from tqdm import tqdm

from ..device import resolve_device
from ..errors import UserError
from ..generators import build_generator, resolve_generator
from ..images import FORMATS
from ..translate import Translator
from ..translate_files import default_output, expand_inputs, plan_files, translate_files
from .common import Parser, add_option, run_cli

PROG = "cyclegan-translate"


def build_parser() -> Parser:
    p = Parser(prog=PROG, description="Translate images with a trained CycleGAN generator, at full resolution.")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders or glob patterns, in any mix")
    add_option(p, "--checkpoint", help="a run folder, a generator .pth file (ours or the reference's "
               "latest_net_G.pth), or nothing for the most recently written run under checkpoints/")
    add_option(p, "--direction", choices=["AtoB", "BtoA"],
               help="AtoB uses G_A, BtoA uses G_B (default AtoB; a G_B file implies BtoA)")
    add_option(p, "--epoch", default="latest", help="latest, best (kept by --eval_freq) or an epoch number (default latest)")
    add_option(p, "--output", "-o", help="output folder (default results/<run>/)")
    add_option(p, "--format", choices=sorted(FORMATS), default="png", help="output format (default png)")
    add_option(p, "--overwrite", action="store_true", help="replace output files that already exist")
    add_option(p, "--recursive", "-r", action="store_true", help="also take images in subfolders of folder inputs")
    add_option(p, "--size", type=int, help="resize the short side to this many pixels first (default: no resizing)")
    add_option(p, "--tile", type=int, help="translate images with a side above this many pixels in tiles "
               "(default: chosen from the generator so memory stays under about 2 GB)")
    add_option(p, "--tile_overlap", type=int, help="overlap between tiles in pixels (default tile/4)")
    add_option(p, "--tile_stats", choices=["exact", "fast"], default="exact",
               help="instance-norm statistics for tiled images: exact (matches untiled output, slower) "
                    "or fast (downscaled estimate, colours may drift)")
    add_option(p, "--device", default="auto", help="auto, cpu, cuda or mps (default auto)")
    add_option(p, "--precision", choices=["auto", "fp32", "bf16", "fp16"], default="auto",
               help="auto picks bf16/fp16 where the hardware runs it fast, else fp32 (default auto)")
    add_option(p, "--batch_size", type=int, default=4, help="same-size images translated together (default 4)")
    add_option(p, "--side_by_side", action="store_true", help="write input and output next to each other")
    add_option(p, "--netG", help="architecture of a bare generator file (default: inferred from its keys)")
    add_option(p, "--norm", choices=["instance", "batch", "none"], help="norm of a bare generator file")
    add_option(p, "--ngf", type=int, help="width of a bare generator file (default: inferred)")
    add_option(p, "--quiet", "-q", action="store_true", help="no progress bar")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_cli(PROG, lambda: _run(args))


def _run(args) -> int:
    if args.batch_size < 1:
        raise UserError(f"--batch-size {args.batch_size} must be at least 1")
    inputs = expand_inputs(args.inputs, args.recursive)      # a missing input is refused before any loading
    source = resolve_generator(args.checkpoint, args.direction, args.epoch, netG=args.netG, norm=args.norm,
                               ngf=args.ngf)
    output = Path(args.output).expanduser() if args.output else default_output(source.run_name)
    plan = plan_files(inputs, output, args.format, overwrite=args.overwrite)
    translator = Translator(build_generator(source), device=resolve_device(args.device), precision=args.precision,
                            direction=source.direction, tile=args.tile, tile_overlap=args.tile_overlap,
                            tile_stats=args.tile_stats, batch_size=args.batch_size, size=args.size,
                            name=source.run_name, progress=not args.quiet)
    result = translate_files(translator, plan, with_input=args.side_by_side, progress=not args.quiet,
                             log=lambda line: tqdm.write(f"{PROG}: {line}", file=sys.stderr))
    if result.interrupted:
        print(f"{PROG}: interrupted after {len(result.written)} of {result.total} images "
              "(every written file is complete)", file=sys.stderr)
        return 130
    summary = (f"{PROG}: {len(result.written)} images in {result.seconds:.1f} s ({result.rate:.2f} images/s) "
               f"-> {result.output_dir}/")
    if result.failed:
        summary += f"; {len(result.failed)} failed"
    print(summary, file=sys.stderr)
    return 2 if result.failed else 0


if __name__ == "__main__":
    sys.exit(main())
