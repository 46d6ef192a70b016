"""``cyclegan-bench``: training and translation speed, plain eager fp32 vs our fast path."""
from __future__ import annotations

import sys

from ..compose.bench import MODELS, run_benchmark
from ..errors import UserError
from .common import Parser, add_option, run_cli

PROG = "cyclegan-bench"


def build_parser() -> Parser:
    p = Parser(prog=PROG, description="Time CycleGAN training iterations and translation on this machine "
               "(plain eager fp32 vs the default fast path) and compare with the measured peak FLOP/s.")
    add_option(p, "--sizes", type=int, nargs="+", default=[128, 256], help="training image sizes (default 128 256)")
    add_option(p, "--batches", type=int, nargs="+", default=[1, 4], help="training batch sizes (default 1 4)")
    add_option(p, "--translate-sizes", type=int, nargs="*", default=[256, 1024],
               help="translation image sizes (default 256 1024)")
    add_option(p, "--netG", default="resnet_9blocks", choices=["resnet_9blocks", "resnet_6blocks"])
    add_option(p, "--ngf", type=int, default=64)
    add_option(p, "--ndf", type=int, default=64)
    add_option(p, "--steps", type=int, default=5, help="timed iterations per configuration (median)")
    add_option(p, "--warmup", type=int, default=2, help="untimed iterations first")
    add_option(p, "--device", default="auto")
    add_option(p, "--compile", action="store_true", help="torch.compile the fast path")
    add_option(p, "--models", nargs="+", choices=list(MODELS), default=list(MODELS),
               help="models whose training iterations are timed (default: cyclegan cut fastcut)")
    add_option(p, "--paths", nargs="+", choices=["eager-fp32", "fast"], default=["eager-fp32", "fast"],
               help="eager-fp32 (the reference's structure) and/or fast (our default path)")
    add_option(p, "--precision", choices=["auto", "fp32", "bf16", "fp16"], default="auto",
               help="the fast path's precision (fp32: compare the models' arithmetic alone)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def run() -> int:
        if min(args.sizes + args.batches + [args.steps]) < 1 or args.warmup < 0:
            raise UserError("--sizes, --batches and --steps must be positive, --warmup >= 0")
        run_benchmark(args.sizes, args.batches, args.translate_sizes, args.netG, args.ngf, args.ndf,
                      args.device, args.steps, args.warmup, args.compile, models=tuple(args.models),
                      paths=tuple(args.paths), precision=args.precision)
        return 0
    return run_cli(PROG, run)


if __name__ == "__main__":
    sys.exit(main())
