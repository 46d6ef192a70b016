"""``cyclegan-translate``: translate photos at full resolution with a trained generator.

    cyclegan-translate photo.jpg                              newest run under checkpoints/, AtoB
    cyclegan-translate photos/ "more/*.jpg" --checkpoint checkpoints/forest2abstract --direction BtoA
    cyclegan-translate big.tif --checkpoint latest_net_G.pth  a reference pretrained generator

Outputs go to ``results/<run>/`` (or ``--output``) under the input's name; an existing file is
never replaced without ``--overwrite``, and a second run into an ``--output`` another run is
writing is refused. Unreadable inputs, images below the network's minimum size and images too
large for the memory available are reported by name and skipped; the exit code is 2 when any
input failed.

The reference's ``test.py`` form works too (``cyclegan.inference.reference_test``), with its results layout:

    cyclegan-translate --dataroot datasets/horse2zebra/testA --name horse2zebra_pretrained --model test
    cyclegan-translate --dataroot datasets/maps --name maps_cyclegan --model cycle_gan --num_test 10
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch
from tqdm import tqdm

from ..device import resolve_device
from ..errors import UserError
from ..inference.generators import build_generator, resolve_generator
from ..data.pixels import FORMATS
from ..compat.reference_options import apply_suffix
from ..inference.reference_test import PREPROCESS, ReferenceTest, run_reference_test
from ..inference.translate import Translator
from ..inference.translate_files import default_output, expand_inputs, lock_output, plan_files, translate_files
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
    add_option(p, "--precision", choices=["auto", "fp32", "bf16", "fp16"], default="fp32",
               help="fp32 (default: the generator's exact output); auto picks bf16/fp16 where the hardware "
                    "runs it fast, which is faster and changes pixels by a few levels of 255")
    add_option(p, "--batch_size", type=int, default=4, help="same-size images translated together (default 4)")
    add_option(p, "--side_by_side", action="store_true", help="write input and output next to each other")
    add_option(p, "--netG", help="architecture of a bare generator file (default: inferred from its keys)")
    add_option(p, "--norm", choices=["instance", "batch", "none"], help="norm of a bare generator file")
    add_option(p, "--ngf", type=int, help="width of a bare generator file (default: inferred)")
    add_option(p, "--quiet", "-q", action="store_true", help="no progress bar")
    return p


REFERENCE_MARKERS = ("--dataroot", "--name")    # options only the reference's test.py form has


def is_reference_form(argv: list[str]) -> bool:
    return any(arg.split("=", 1)[0] in REFERENCE_MARKERS for arg in argv)


def build_reference_parser() -> Parser:
    """The reference's test.py options (base + test options), with its names and defaults."""
    p = Parser(prog=PROG, description="The reference's test.py form: translate --dataroot with run --name "
               "and write results/NAME/<phase>_<epoch>/ (images/ and index.html) as the reference does.")
    add_option(p, "--dataroot", required=True, help="--model test: a folder of images (subfolders too); "
               "--model cycle_gan: the folder holding <phase>A/ and <phase>B/")
    add_option(p, "--name", required=True, help="the run: its weights are in <checkpoints_dir>/<name>/")
    add_option(p, "--model", default="test", help="test (one generator, latest_net_G<model_suffix>.pth) or "
               "cycle_gan (G_A and G_B: real/fake/rec of both sides) (default test)")
    add_option(p, "--checkpoints_dir", default="./checkpoints", help="default ./checkpoints")
    add_option(p, "--results_dir", default="./results", help="default ./results")
    add_option(p, "--num_test", type=int, default=50, help="how many inputs to translate (default 50)")
    add_option(p, "--epoch", default="latest", help="which weights: latest, best or an epoch number (default latest)")
    add_option(p, "--load_iter", type=int, default=0, help="> 0: load iter_<N>_net_*.pth (--save_by_iter) "
               "instead of --epoch")
    add_option(p, "--phase", default="test", help="--model cycle_gan reads <dataroot>/<phase>A and B (default test)")
    add_option(p, "--direction", choices=["AtoB", "BtoA"], default="AtoB", help="BtoA swaps the two sides")
    add_option(p, "--model_suffix", default="", help="--model test loads <epoch>_net_G<model_suffix>.pth "
               "(e.g. _A for one generator of a CycleGAN run)")
    add_option(p, "--aspect_ratio", type=float, default=1.0, help="resize saved images as the reference does")
    add_option(p, "--eval", action="store_true", help="eval mode (batch norm running statistics, no dropout); "
               "without it the networks run in training mode, as in the reference")
    add_option(p, "--load_size", type=int, default=256, help="default 256 (= --crop_size at test time)")
    add_option(p, "--crop_size", type=int, default=256, help="default 256")
    add_option(p, "--preprocess", choices=list(PREPROCESS), default="resize_and_crop", help="default resize_and_crop")
    add_option(p, "--max_dataset_size", type=int, help="use at most this many images per side")
    add_option(p, "--display_winsize", type=int, default=256, help="image width on index.html (default 256)")
    add_option(p, "--dataset_mode", help="single (--model test) or unaligned (--model cycle_gan): set by --model")
    add_option(p, "--gpu_ids", help="-1: CPU; N: cuda:N (default: a GPU when there is one)")
    add_option(p, "--device", default="auto", help="auto, cpu, cuda or mps (or use --gpu_ids)")
    add_option(p, "--suffix", help="append _<suffix> to --name, filled from the options: {netG}_size{load_size}")
    add_option(p, "--netG", help="generator architecture (default: from config.json or the weights' keys)")
    add_option(p, "--norm", choices=["instance", "batch", "syncbatch", "none"], help="default: inferred")
    add_option(p, "--ngf", type=int, help="default: inferred")
    add_option(p, "--no_dropout", action="store_true", help="no dropout (default: inferred; a bare U-Net "
               "file has dropout, as in the reference)")
    add_option(p, "--input_nc", type=int, help="default: inferred")
    add_option(p, "--output_nc", type=int, help="default: inferred")
    add_option(p, "--use_wandb", action="store_true", help="refused: results go to index.html")
    add_option(p, "--quiet", "-q", action="store_true", help="no per-image lines")
    # The reference's test.py overrides these (batch 1, serial, no flip, no workers) or never uses
    # them when testing: accepted so its command lines run, with no effect, as there.
    for name in ("batch_size", "num_threads", "ndf", "n_layers_D"):
        add_option(p, f"--{name}", type=int, help="accepted; no effect at test time (as in the reference)")
    for name in ("init_gain",):
        add_option(p, f"--{name}", type=float, help="accepted; no effect at test time (as in the reference)")
    for name in ("netD", "init_type", "wandb_project_name"):
        add_option(p, f"--{name}", help="accepted; no effect at test time (as in the reference)")
    for name in ("serial_batches", "no_flip", "verbose"):
        add_option(p, f"--{name}", action="store_true", help="accepted; no effect at test time (as in the reference)")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if is_reference_form(argv):
        args = build_reference_parser().parse_args(argv)
        return run_cli(PROG, lambda: _run_reference(args))
    args = build_parser().parse_args(argv)
    return run_cli(PROG, lambda: _run(args))


def _reference_device(args) -> str:
    """--gpu_ids as the reference means it: -1 the CPU, N cuda:N (the first of several: one image a batch)."""
    if args.gpu_ids is None:
        return args.device
    ids = [part.strip() for part in str(args.gpu_ids).split(",") if part.strip()]
    if not ids or not all(i.lstrip("-").isdigit() for i in ids):
        raise UserError(f"--gpu_ids {args.gpu_ids!r}: give -1 for the CPU or a GPU id such as 0")
    if args.device not in (None, "auto"):
        raise UserError("give either --gpu_ids or --device, not both")
    if int(ids[0]) < 0:
        return "cpu"
    if not torch.cuda.is_available():
        raise UserError(f"--gpu_ids {args.gpu_ids}: there is no CUDA GPU on this machine; use --gpu_ids -1 (the CPU)")
    return f"cuda:{int(ids[0])}"


def _run_reference(args) -> int:
    if args.use_wandb:
        raise UserError("--use_wandb: results are not logged to Weights & Biases here; they are in "
                        "<results_dir>/<name>/<phase>_<epoch>/index.html (drop --use_wandb)")
    expected = {"test": "single", "cycle_gan": "unaligned", "cyclegan": "unaligned"}.get(args.model)
    if args.dataset_mode not in (None, expected) and expected is not None:
        raise UserError(f"--dataset_mode {args.dataset_mode} does not go with --model {args.model}, which reads "
                        f"{expected} data; drop --dataset_mode")
    name = apply_suffix(args.name, args.suffix, vars(args))
    opts = ReferenceTest(
        dataroot=args.dataroot, name=name, model=args.model, checkpoints_dir=args.checkpoints_dir,
        results_dir=args.results_dir, num_test=args.num_test, epoch=args.epoch, load_iter=args.load_iter,
        phase=args.phase, direction=args.direction, model_suffix=args.model_suffix, aspect_ratio=args.aspect_ratio,
        eval=args.eval, load_size=args.load_size, crop_size=args.crop_size, preprocess=args.preprocess,
        max_dataset_size=args.max_dataset_size, display_winsize=args.display_winsize,
        device=_reference_device(args), netG=args.netG, norm=args.norm, ngf=args.ngf,
        use_dropout=False if args.no_dropout else None, input_nc=args.input_nc, output_nc=args.output_nc)
    say = (lambda line: None) if args.quiet else (lambda line: print(f"{PROG}: {line}", file=sys.stderr))
    result = run_reference_test(opts, log=say)
    if result.inputs == 0 and len(result.skipped) == 1:
        path, why = result.skipped[0]
        raise UserError(f"cannot translate {path}: {why}")
    for path, why in result.skipped:
        print(f"{PROG}: skipped {path}: {why}", file=sys.stderr)
    summary = f"{PROG}: {result.inputs} inputs -> {result.web_dir}/ (images/, index.html)"
    if result.skipped:
        summary += f"; {len(result.skipped)} skipped"
    print(summary, file=sys.stderr)
    return 2 if result.skipped else 0


def _run(args) -> int:
    if args.batch_size < 1:
        raise UserError(f"--batch-size {args.batch_size} must be at least 1")
    inputs = expand_inputs(args.inputs, args.recursive)      # a missing input is refused before any loading
    source = resolve_generator(args.checkpoint, args.direction, args.epoch, netG=args.netG, norm=args.norm,
                               ngf=args.ngf)
    # The translator first: its refusals (--tile, --size beyond the memory) leave no output folder.
    translator = Translator(build_generator(source), device=resolve_device(args.device), precision=args.precision,
                            direction=source.direction, tile=args.tile, tile_overlap=args.tile_overlap,
                            tile_stats=args.tile_stats, batch_size=args.batch_size, size=args.size,
                            name=source.run_name, progress=not args.quiet,
                            log=lambda line: tqdm.write(f"{PROG}: {line}", file=sys.stderr))
    output = Path(args.output).expanduser() if args.output else default_output(source.run_name)
    plan = plan_files(inputs, output, args.format, overwrite=args.overwrite)
    with lock_output(plan):        # a second run into this --output is refused before any work
        return _translate(args, translator, plan)


def _translate(args, translator: Translator, plan) -> int:
    single = len(plan.inputs) == 1     # one input that fails: its reason is the one line, no summary
    log = (lambda line: None) if single else (lambda line: tqdm.write(f"{PROG}: {line}", file=sys.stderr))
    result = translate_files(translator, plan, with_input=args.side_by_side, progress=not args.quiet, log=log)
    if single and result.failed and not result.interrupted:
        path, why = result.failed[0]
        raise UserError(f"cannot translate {path}: {why}")
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
