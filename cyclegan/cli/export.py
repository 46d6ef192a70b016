"""``cyclegan-export``: one generator as TorchScript and ONNX, parity-checked, with a sidecar JSON.

    cyclegan-export                                           newest run under checkpoints/, AtoB, both formats
    cyclegan-export --checkpoint checkpoints/forest2abstract --direction BtoA --format onnx
    cyclegan-export --checkpoint latest_net_G.pth --output exports/horse2zebra

Writes ``generator_<direction>.pt`` / ``.onnx`` / ``.json`` to ``--output`` (default
``exports/<run>/``); existing files are kept unless ``--overwrite``.
"""
from __future__ import annotations

import sys

from ..inference.export import FORMATS, export_checkpoint
from .common import Parser, add_option, run_cli

PROG = "cyclegan-export"


def build_parser() -> Parser:
    p = Parser(prog=PROG, description="Export a trained generator to TorchScript and ONNX "
               "(dynamic batch/height/width), checked against eager PyTorch.")
    add_option(p, "--checkpoint", help="a run folder, a generator .pth file, or nothing for the most "
               "recently written run under checkpoints/")
    add_option(p, "--direction", choices=["AtoB", "BtoA"], help="AtoB exports G_A, BtoA exports G_B (default AtoB)")
    add_option(p, "--epoch", default="latest", help="latest or an epoch number (default latest)")
    add_option(p, "--format", choices=["torchscript", "onnx", "both"], default="both",
               help="what to write (default both)")
    add_option(p, "--output", "-o", help="output folder (default exports/<run>/)")
    add_option(p, "--opset", type=int, help="ONNX opset, 18 or newer (default: the exporter's current one)")
    add_option(p, "--overwrite", action="store_true", help="replace files that already exist")
    add_option(p, "--skip_check", action="store_true",
               help="skip the parity check (not recommended; lets ONNX export run without onnxruntime)")
    add_option(p, "--netG", help="architecture of a bare generator file (default: inferred from its keys)")
    add_option(p, "--norm", choices=["instance", "batch", "none"], help="norm of a bare generator file")
    add_option(p, "--ngf", type=int, help="width of a bare generator file (default: inferred)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_cli(PROG, lambda: _run(args))


def _run(args) -> int:
    formats = FORMATS if args.format == "both" else (args.format,)
    export_checkpoint(args.checkpoint, args.output, args.direction, args.epoch, formats, netG=args.netG,
                      norm=args.norm, ngf=args.ngf, opset=args.opset, check=not args.skip_check,
                      overwrite=args.overwrite, log=lambda line: print(f"{PROG}: {line}", file=sys.stderr))
    return 0


if __name__ == "__main__":
    sys.exit(main())
