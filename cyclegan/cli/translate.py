"""``cyclegan-translate``: translate photos at full resolution with a trained generator.

    cyclegan-translate photo.jpg                              newest run under checkpoints/, AtoB
    cyclegan-translate photos/ "more/*.jpg" --checkpoint checkpoints/forest2abstract --direction BtoA
    cyclegan-translate big.tif --checkpoint latest_net_G.pth  a reference pretrained generator

Outputs go to ``results/<run>/`` (or ``--output``) under the input's name; an existing file is
never replaced without ``--overwrite``. Unreadable inputs are reported by name and skipped; the
exit code is 2 when any input failed.
"""
from __future__ import annotations

import glob
import io
import os
import sys
import tempfile
import time
from pathlib import Path

from ..errors import UserError
from .common import Parser, add_option, run_cli

PROG = "cyclegan-translate"
FORMATS = {"png": "PNG", "jpg": "JPEG", "webp": "WEBP"}


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


# --------------------------------------------------------------------------- inputs and outputs

def expand_inputs(patterns: list[str], recursive: bool) -> list[Path]:
    """Files, folders and globs -> image files, in the given order, each once."""
    from ..data.images import is_image_file

    found: list[Path] = []
    for pattern in patterns:
        path = Path(pattern).expanduser()
        if path.is_dir():
            walk = path.rglob("*") if recursive else path.iterdir()
            files = sorted(p for p in walk if p.is_file() and is_image_file(p))
            if not files:
                raise UserError(f"input folder {path} holds no images"
                                f"{'' if recursive else ' (add --recursive for subfolders)'}")
        elif path.is_file():
            files = [path]  # named explicitly: tried whatever its extension
        elif glob.has_magic(pattern):
            files = sorted(Path(p) for p in glob.glob(os.path.expanduser(pattern), recursive=True)
                           if Path(p).is_file() and is_image_file(Path(p)))
            if not files:
                raise UserError(f"input pattern {pattern!r} matches no images")
        else:
            raise UserError(f"input {pattern} does not exist")
        found += files
    unique = dict.fromkeys(p.resolve() for p in found)
    return list(unique)


def plan_outputs(inputs: list[Path], output: Path, extension: str) -> tuple[list[Path], list[str]]:
    """One output path per input, named after it; clashing names get -2, -3, ... (never clobbered)."""
    taken: set[str] = set()
    planned, notes = [], []
    for source in inputs:
        name = f"{source.stem}.{extension}"
        n = 1
        while name.lower() in taken:  # case-insensitive: the output may live on such a file system
            n += 1
            name = f"{source.stem}-{n}.{extension}"
        if n > 1:
            notes.append(f"{source} -> {name} ({source.stem}.{extension} is taken by another input)")
        taken.add(name.lower())
        planned.append(output / name)
    return planned, notes


def check_output_folder(output: Path) -> None:
    if output.exists() and not output.is_dir():
        raise UserError(f"--output {output} is a file; give a folder")
    try:
        output.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=output, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise UserError(f"--output {output} is not writable ({exc.strerror or exc}); choose another folder") from None


def encode(image, fmt: str) -> bytes:
    from PIL import Image

    if fmt == "jpg" and image.mode == "RGBA":  # JPEG has no alpha: show it as a viewer would, on white
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image).convert("RGB")
    buffer = io.BytesIO()
    options = {"jpg": {"quality": 95}, "webp": {"quality": 95}, "png": {}}[fmt]
    image.save(buffer, FORMATS[fmt], **options)
    return buffer.getvalue()


def side_by_side(before, after):
    from PIL import Image

    mode = "RGBA" if "A" in after.mode else "RGB"
    canvas = Image.new(mode, (before.width + after.width, max(before.height, after.height)), "white")
    canvas.paste(before.convert(mode), (0, 0))
    canvas.paste(after.convert(mode), (before.width, 0))
    return canvas


# --------------------------------------------------------------------------- the command

def _run(args) -> int:
    if args.batch_size < 1:
        raise UserError(f"--batch-size {args.batch_size} must be at least 1")
    inputs = expand_inputs(args.inputs, args.recursive)

    from ..checkpoint import atomic_write_bytes
    from ..translate import resolve_generator

    source = resolve_generator(args.checkpoint, args.direction, args.epoch, netG=args.netG, norm=args.norm,
                               ngf=args.ngf)
    output = Path(args.output).expanduser() if args.output else Path("results") / source.run_name
    outputs, notes = plan_outputs(inputs, output, args.format)
    existing = [p for p in outputs if p.exists()]
    if existing and not args.overwrite:
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        raise UserError(f"{existing[0]} already exists{more}; choose another --output or add --overwrite")
    check_output_folder(output)

    from PIL import Image, ImageOps, UnidentifiedImageError
    from tqdm import tqdm

    from ..device import resolve_device
    from ..translate import Translator, build_generator, prepare_image

    translator = Translator(build_generator(source), device=resolve_device(args.device), precision=args.precision,
                            direction=source.direction, tile=args.tile, tile_overlap=args.tile_overlap,
                            tile_stats=args.tile_stats, batch_size=args.batch_size, size=args.size,
                            name=source.run_name, progress=not args.quiet)
    for note in notes:
        print(f"{PROG}: {note}", file=sys.stderr)

    failed, done = [], 0
    umask = os.umask(0)
    os.umask(umask)
    start = time.perf_counter()
    bar = tqdm(total=len(inputs), desc=f"{source.run_name} {source.direction}", unit="img",
               disable=args.quiet, dynamic_ncols=True)

    def report(path: Path, why: str) -> None:
        failed.append(path)
        tqdm.write(f"{PROG}: skipped {path}: {why}", file=sys.stderr)

    def flush(batch: list) -> None:
        nonlocal done
        if not batch:
            return
        results = translator.translate_images([image for _, _, image in batch])
        for (source_path, target, image), result in zip(batch, results):
            if args.side_by_side:
                before, alpha = prepare_image(image, args.size, 3)
                result = side_by_side(before if alpha is None else _with_alpha(before, alpha), result)
            try:
                atomic_write_bytes(target, encode(result, args.format))
                os.chmod(target, 0o666 & ~umask)  # an ordinary file for the user, not the temp file's 0600
                done += 1
            except OSError as exc:
                report(source_path, f"cannot write {target} ({exc.strerror or exc})")
        bar.update(len(batch))

    batch: list = []
    try:
        for source_path, target in zip(inputs, outputs):
            try:
                with Image.open(source_path) as opened:
                    image = ImageOps.exif_transpose(opened)  # decodes fully; upright from here on
            except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError) as exc:
                report(source_path, f"not a readable image ({type(exc).__name__}: {str(exc)[:120]})")
                bar.update(1)
                continue
            if batch and (image.size != batch[0][2].size or len(batch) >= args.batch_size):
                flush(batch)
                batch = []
            batch.append((source_path, target, image))
        flush(batch)
    except KeyboardInterrupt:
        bar.close()
        print(f"{PROG}: interrupted after {done} of {len(inputs)} images (every written file is complete)",
              file=sys.stderr)
        return 130
    bar.close()
    seconds = time.perf_counter() - start
    rate = done / seconds if seconds > 0 else 0.0
    summary = f"{PROG}: {done} images in {seconds:.1f} s ({rate:.2f} images/s) -> {output}/"
    if failed:
        summary += f"; {len(failed)} failed"
    print(summary, file=sys.stderr)
    return 2 if failed else 0


def _with_alpha(image, alpha):
    out = image.convert("RGBA")
    out.putalpha(alpha)
    return out


if __name__ == "__main__":
    sys.exit(main())
