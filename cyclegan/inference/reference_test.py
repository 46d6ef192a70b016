"""The reference's ``test.py``, as a library function: same options, same results layout.

    from cyclegan.inference.reference_test import ReferenceTest, run_reference_test
    result = run_reference_test(ReferenceTest(dataroot="datasets/horse2zebra/testA",
                                              name="horse2zebra_pretrained", model="test"))
    result.page                     # results/horse2zebra_pretrained/test_latest/index.html

What it writes, as the reference does (scripts that read these paths keep working)::

    <results_dir>/<name>/<phase>_<epoch>[_iter<load_iter>]/
        index.html                  a header and one row of images per input
        images/<stem>_real.png      --model test: the input as the network saw it ...
        images/<stem>_fake.png      ... and its translation by latest_net_G<model_suffix>.pth
        images/<stem>_real_A.png    --model cycle_gan: real_A, fake_B, rec_A, real_B, fake_A, rec_B
        ...                         from <dataroot>/<phase>A and <phase>B with G_A and G_B

Inputs: ``--model test`` reads every image under ``--dataroot`` (subfolders too: the reference's
single dataset); ``--model cycle_gan`` pairs the i-th image of <phase>A with the i-th of <phase>B
(its unaligned dataset with serial batches, each side wrapping around), ``max(|A|, |B|)`` pairs.
Both stop after ``num_test`` inputs. Test-time preprocessing is the reference's: ``load_size =
crop_size = 256``, ``resize_and_crop`` (squash to load_size x load_size, bicubic, then crop),
no flipping. Differences, all deliberate: a crop smaller than the resized image is taken from
the centre (the reference takes it at random, so its results differ run to run); pixels are
rounded, not truncated, to 8 bits (``cyclegan.data.pixels``: at most 1 level apart); an image that
cannot be read, or is below the network's minimum size, is named and skipped instead of ending
the run; two inputs with one file name get ``-2`` instead of overwriting each other; a side
that is not a multiple of the network's (a U-Net's 256) is padded and cropped back instead of
failing. Like the reference, the network runs in training mode unless ``eval`` is set (this
matters only for batch norm and dropout).
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import torch
from PIL import Image, UnidentifiedImageError

from ..checkpoint import atomic_write_bytes
from ..data.images import find_images
from ..device import resolve_device
from ..errors import UserError
from .generators import GeneratorSource, build_generator, resolve_generator
from ..data.pixels import centre_crop, encode, to_image, to_tensor
from ..models import DEFAULT_MODEL, model_card
from ..runfolder import RunFolder
from .translate import Translator
from .translate_files import refuse_input_overwrite

MODELS = {"test": "test", "cycle_gan": "cycle_gan", "cyclegan": "cycle_gan"}   # what --model may say
PREPROCESS = ("resize_and_crop", "crop", "scale_width", "scale_width_and_crop", "none")
CYCLE_LABELS = ("real_A", "fake_B", "rec_A", "real_B", "fake_A", "rec_B")      # the reference's visual names


@dataclass
class ReferenceTest:
    """The reference's test options that change what is written (its names and defaults)."""
    dataroot: str
    name: str
    model: str = "test"                     # test (one generator, dataset_mode single) | cycle_gan
    checkpoints_dir: str = "./checkpoints"
    results_dir: str = "./results"
    num_test: int = 50
    epoch: str = "latest"
    load_iter: int = 0                      # > 0: load iter_<load_iter>_net_*.pth instead of --epoch
    phase: str = "test"
    direction: str = "AtoB"
    model_suffix: str = ""                  # --model test loads <epoch>_net_G<model_suffix>.pth
    aspect_ratio: float = 1.0
    eval: bool = False                      # run the networks in eval mode (batch norm, dropout)
    load_size: int = 256
    crop_size: int = 256
    preprocess: str = "resize_and_crop"
    max_dataset_size: int | None = None
    display_winsize: int = 256              # image width on the page
    device: str = "auto"
    # Architecture: None = from the run's config.json or the weights' keys.
    netG: str | None = None
    norm: str | None = None
    ngf: int | None = None
    use_dropout: bool | None = None
    input_nc: int | None = None
    output_nc: int | None = None


@dataclass
class ReferenceTestResult:
    web_dir: Path
    page: Path
    written: list[Path] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)     # (input, why)
    inputs: int = 0                                                     # inputs translated


def check_options(opts: ReferenceTest) -> str:
    """Refuse what cannot be honoured, in one line each; the canonical model name."""
    model = MODELS.get(opts.model)
    if model is None:
        raise UserError(f"--model {opts.model}: this form of cyclegan-translate runs --model test (one "
                        "generator, the images of --dataroot) or --model cycle_gan (both generators on "
                        "<phase>A and <phase>B); pix2pix and colorization models are not trained here")
    if opts.direction not in ("AtoB", "BtoA"):
        raise UserError(f"--direction {opts.direction}: use AtoB or BtoA")
    if opts.preprocess not in PREPROCESS:
        raise UserError(f"--preprocess {opts.preprocess}: use one of {', '.join(PREPROCESS)}")
    for option, value in (("num_test", opts.num_test), ("load_size", opts.load_size), ("crop_size", opts.crop_size),
                          ("display_winsize", opts.display_winsize)):
        if value < 1:
            raise UserError(f"--{option} {value} must be at least 1")
    if opts.load_iter < 0:
        raise UserError(f"--load_iter {opts.load_iter} must be 0 (use --epoch) or a saved iteration")
    if opts.max_dataset_size is not None and opts.max_dataset_size < 1:
        raise UserError(f"--max_dataset_size {opts.max_dataset_size} must be at least 1")
    if not opts.aspect_ratio > 0 or opts.aspect_ratio == float("inf"):
        raise UserError(f"--aspect_ratio {opts.aspect_ratio} must be a positive number")
    if not opts.name:
        raise UserError("--name: give the run's name (its folder under --checkpoints_dir)")
    return model


def web_dir(opts: ReferenceTest) -> Path:
    """``<results_dir>/<name>/<phase>_<epoch>``, with ``_iter<N>`` when --load_iter is set."""
    folder = Path(opts.results_dir).expanduser() / opts.name / f"{opts.phase}_{opts.epoch}"
    return folder.with_name(f"{folder.name}_iter{opts.load_iter}") if opts.load_iter > 0 else folder


# --------------------------------------------------------------------------- preprocessing

def preprocess(image: Image.Image, opts: ReferenceTest, channels: int) -> Image.Image:
    """The reference's test-time transform (no flip); the crop is central (see the module doc)."""
    image = image.convert("L" if channels == 1 else "RGB")
    load, crop = opts.load_size, opts.crop_size
    if "resize" in opts.preprocess:
        image = image.resize((load, load), Image.BICUBIC)
    elif "scale_width" in opts.preprocess:
        width, height = image.size
        if not (width == load and height >= crop):
            image = image.resize((load, int(max(load * height / width, crop))), Image.BICUBIC)
    if "crop" in opts.preprocess:
        if crop > min(image.size):
            raise UserError(f"--crop_size {crop} is larger than the image after --preprocess {opts.preprocess} "
                            f"({image.width} x {image.height}); lower --crop_size or raise --load_size")
        image = centre_crop(image, crop) if image.size != (crop, crop) else image
    if opts.preprocess == "none":   # sides rounded to a multiple of 4, as the reference does
        width, height = image.size
        size = (max(4, round(width / 4) * 4), max(4, round(height / 4) * 4))
        if size != image.size:
            image = image.resize(size, Image.BICUBIC)
    return image


def save_visual(tensor: torch.Tensor, path: Path, aspect_ratio: float) -> Path:
    """One 1 x C x H x W (or C x H x W) tensor in [-1, 1] as a PNG, resized as the reference's
    ``save_image`` does for an aspect ratio other than 1 (its sizes, quirks included)."""
    image = to_image(tensor[0] if tensor.dim() == 4 else tensor, rgb=True)
    width, height = image.size
    if aspect_ratio > 1.0:
        image = image.resize((height, int(width * aspect_ratio)), Image.BICUBIC)
    elif aspect_ratio < 1.0:
        image = image.resize((int(height / aspect_ratio), width), Image.BICUBIC)
    atomic_write_bytes(path, encode(image, "png"))
    return path


# --------------------------------------------------------------------------- the page

def write_page(page: Path, title: str, rows: list[tuple[str, list[tuple[str, str]]]], width: int) -> None:
    """The reference's results page: per input a header and one table row of (file, label) images."""
    parts = ["<!DOCTYPE html>", "<html>", "<head>", f"  <title>{html.escape(title)}</title>", "</head>", "<body>"]
    for header, images in rows:
        parts.append(f"  <h3>{html.escape(header)}</h3>")
        parts.append('  <table border="1" style="table-layout: fixed;">')
        parts.append("    <tr>")
        for file_name, label in images:
            src = html.escape(f"images/{file_name}", quote=True)
            parts.append('      <td halign="center" style="word-wrap: break-word;" valign="top">'
                         f'<p><a href="{src}"><img src="{src}" style="width:{width}px"></a><br>'
                         f"<p>{html.escape(label)}</p></p></td>")
        parts.append("    </tr>")
        parts.append("  </table>")
    parts += ["</body>", "</html>", ""]
    atomic_write_bytes(page, "\n".join(parts).encode("utf-8"))


# --------------------------------------------------------------------------- networks and inputs

def _weights_tag(opts: ReferenceTest) -> str:
    return f"iter_{opts.load_iter}" if opts.load_iter > 0 else str(opts.epoch)


def _load(opts: ReferenceTest, network: str, device: torch.device) -> tuple[Translator, GeneratorSource]:
    """``<checkpoints_dir>/<name>/<tag>_net_<network>.pth`` as a translator in the reference's test mode."""
    run = RunFolder.under(opts.checkpoints_dir, opts.name)
    tag = _weights_tag(opts)
    path = run.weights(network, tag)
    if not path.is_file():
        where = run.available_tags(network) if run.path.is_dir() else f"{run.path} does not exist"
        raise UserError(f"no {path.name} in {run.path} ({where}); check --name, --checkpoints_dir, "
                        "--epoch/--load_iter" + (" and --model_suffix" if opts.model == "test" else ""))
    source = resolve_generator(path, None, "latest", netG=opts.netG, norm=opts.norm, ngf=opts.ngf)
    use_dropout = opts.use_dropout
    if use_dropout is None and source.spec_origin == "keys" and source.spec.netG.startswith("unet"):
        # A U-Net's dropout adds no keys; the reference's default is dropout on unless --no_dropout
        # (it acts only without --eval).
        use_dropout = True
    overrides = {k: v for k, v in (("use_dropout", use_dropout), ("input_nc", opts.input_nc),
                                   ("output_nc", opts.output_nc)) if v is not None}
    if overrides:
        source = replace(source, spec=replace(source.spec, **overrides))
    translator = Translator(build_generator(source), device=device, precision="fp32", tiling=False,
                            name=opts.name)
    translator.generator.train(not opts.eval)   # the reference's test.py: train mode unless --eval
    return translator, source


def _readable(paths: list[Path], what: str) -> list[Path]:
    if not paths:
        raise UserError(f"{what} holds no images")
    return paths


def _image_folder(folder: Path, option: str) -> list[Path]:
    if not folder.is_dir():
        raise UserError(f"{option} {folder} is not a folder")
    return _readable(find_images(folder), f"{option} {folder}")


# --------------------------------------------------------------------------- the run

def run_reference_test(opts: ReferenceTest, log: Callable[[str], None] | None = None) -> ReferenceTestResult:
    """Translate as the reference's ``test.py`` does and write its results folder and page."""
    say = log or (lambda line: None)
    model = check_options(opts)
    device = resolve_device(opts.device)
    root = Path(opts.dataroot).expanduser()
    if not root.is_dir():
        raise UserError(f"--dataroot {root} is not a folder")
    cap = opts.max_dataset_size
    if model == "test":
        inputs = [_image_folder(root, "--dataroot")[:cap]]
        networks = {"G": _load(opts, "G" + opts.model_suffix, device)[0]}
        count = len(inputs[0])
    else:
        sides = ("A", "B") if opts.direction == "AtoB" else ("B", "A")   # BtoA: real_A comes from <phase>B
        inputs = [_image_folder(root / f"{opts.phase}{side}", "--dataroot")[:cap] for side in sides]
        # the reference's CycleGAN test: both generators, keyed by the direction each translates
        networks = {direction: _load(opts, net, device)[0]
                    for direction, net in model_card(DEFAULT_MODEL).directions.items()}
        count = max(len(paths) for paths in inputs)
    count = min(count, opts.num_test)

    out = web_dir(opts)
    images_dir = out / "images"
    result = ReferenceTestResult(out, out / "index.html")
    try:
        images_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot write {images_dir} ({exc.strerror or exc}); choose another --results_dir") from None
    labels = ("real", "fake") if model == "test" else CYCLE_LABELS
    stems = _unique_stems([paths[i % len(paths)] for i in range(count) for paths in inputs[:1]], say)
    planned = [images_dir / f"{stem}_{label}.png" for stem in stems for label in labels]
    refuse_input_overwrite([p for paths in inputs for p in paths], planned)

    rows = []
    for i, stem in enumerate(stems):
        sources = [paths[i % len(paths)] for paths in inputs]
        try:
            visuals = _visuals(model, networks, sources, opts)
        except _Skip as skip:
            result.skipped.append((skip.path, skip.why))     # the caller says which and why
            continue
        row = []
        for label in labels:
            file_name = f"{stem}_{label}.png"
            try:
                result.written.append(save_visual(visuals[label], images_dir / file_name, opts.aspect_ratio))
            except OSError as exc:
                raise UserError(f"cannot write {images_dir / file_name} ({exc.strerror or exc}); "
                                "free some space or choose another --results_dir") from None
            row.append((file_name, label))
        rows.append((stem, row))
        result.inputs += 1
        if i % 5 == 0:
            say(f"processing ({i:04d})-th image... {sources[0]}")
    title = f"Experiment = {opts.name}, Phase = {opts.phase}, Epoch = {opts.epoch}"
    write_page(result.page, title, rows, opts.display_winsize)
    return result


class _Skip(Exception):
    def __init__(self, path: Path, why: str):
        super().__init__(why)
        self.path, self.why = path, why


def _unique_stems(paths: list[Path], say: Callable[[str], None]) -> list[str]:
    """File stems, as the reference names its results; a repeated stem gets -2, -3 ... (not overwritten)."""
    taken: set[str] = set()
    stems = []
    for path in paths:
        stem, n = path.stem, 1
        while stem.lower() in taken:
            n += 1
            stem = f"{path.stem}-{n}"
        if n > 1:
            say(f"{path} -> {stem}_* ({path.stem} is taken by another input)")
        taken.add(stem.lower())
        stems.append(stem)
    return stems


def _read(path: Path, opts: ReferenceTest, channels: int, translator: Translator) -> torch.Tensor:
    """One input as the network sees it: 1 x C x H x W in [-1, 1]."""
    try:
        with Image.open(path) as opened:
            opened.load()
            image = preprocess(opened, opts, channels)
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError) as exc:
        raise _Skip(path, f"not a readable image ({type(exc).__name__}: {str(exc)[:120]})") from None
    why = translator.too_small(*image.size)
    if why:
        raise _Skip(path, f"{why} after --preprocess {opts.preprocess}; raise --load_size/--crop_size")
    return to_tensor(image).unsqueeze(0)


def _visuals(model: str, networks: dict[str, Translator], sources: list[Path], opts: ReferenceTest) -> dict:
    """The reference's visuals of one input: real/fake (test), or the six of a CycleGAN."""
    if model == "test":
        G = networks["G"]
        real = _read(sources[0], opts, G.input_nc, G)
        return {"real": real, "fake": G.translate_tensor(real)}
    G_A, G_B = networks["AtoB"], networks["BtoA"]
    real_A = _read(sources[0], opts, G_A.input_nc, G_A)
    real_B = _read(sources[1], opts, G_B.input_nc, G_B)
    fake_B = G_A.translate_tensor(real_A)
    fake_A = G_B.translate_tensor(real_B)
    return {"real_A": real_A, "fake_B": fake_B, "rec_A": G_B.translate_tensor(fake_B),
            "real_B": real_B, "fake_A": fake_A, "rec_B": G_A.translate_tensor(fake_A)}
