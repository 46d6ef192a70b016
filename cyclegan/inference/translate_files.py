"""Translating image files: folders, globs and single files in, one output file per input.

    from cyclegan.inference.translate import Translator
    from cyclegan.inference.translate_files import translate_files
    translator = Translator.from_checkpoint("checkpoints/forest2abstract")
    result = translate_files(translator, ["photos/", "more/*.jpg"], "paintings/", fmt="jpg")
    result.written, result.failed            # what was written; (input, why) for each skipped input

Outputs are named after their inputs; two inputs with one name get ``-2``, ``-3`` ... (compared
case-insensitively, as some file systems do), so nothing is clobbered. An existing output is
never replaced without ``overwrite``. Every file is written atomically with the user's usual
permissions. An unreadable input is skipped and named; the rest go on. One run at a time writes
into an output folder (``lock_output``): a second one started beside it is refused, instead of
both passing the check for existing files and the later replacing the earlier's results.
``cyclegan-translate`` is this function plus argument parsing and printing.
"""
from __future__ import annotations

import glob
import os
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Sequence

from PIL import Image, UnidentifiedImageError

from cyclegan.progress import progress_bar
from ..checkpoint import atomic_write_bytes
from ..data.images import is_image_file
from ..errors import NO_ROOM, UserError, WriteFailed
from ..data.pixels import FORMATS, attach_alpha, encode, side_by_side, upright
from .locks import hold_lock
from .translate import Translator, prepare_image

RESULTS_DIR = "results"             # default outputs: results/<run name>/
LOCK_FILE = ".cyclegan-translate.lock"    # in the output folder while a run writes there


@dataclass(frozen=True)
class FilePlan:
    """Which file goes where, checked before any network runs."""
    inputs: list[Path]
    outputs: list[Path]
    output_dir: Path
    fmt: str
    notes: list[str]                # renamed outputs (names taken by another input)
    overwrite: bool = False         # existing outputs may be replaced


@dataclass
class FilesResult:
    output_dir: Path
    total: int
    written: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)    # (input, why)
    seconds: float = 0.0
    interrupted: bool = False        # Ctrl-C: every file written so far is complete

    @property
    def rate(self) -> float:
        return len(self.written) / self.seconds if self.seconds > 0 else 0.0


def expand_inputs(patterns: Sequence[str | Path], recursive: bool = False) -> list[Path]:
    """Files, folders and globs -> image files, in the given order, each once."""
    found: list[Path] = []
    for pattern in patterns:
        pattern = str(pattern)
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
    return list(dict.fromkeys(p.resolve() for p in found))


def plan_outputs(inputs: Sequence[Path], output: Path, extension: str) -> tuple[list[Path], list[str]]:
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
    """Create ``output`` and prove it writable, or say in one line why not."""
    if output.exists() and not output.is_dir():
        raise UserError(f"--output {output} is a file; give a folder")
    try:
        output.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=output, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise UserError(f"--output {output} is not writable ({exc.strerror or exc}); choose another folder") from None


def refuse_input_overwrite(inputs: Sequence[Path], outputs: Sequence[Path]) -> None:
    """No output may be one of the inputs (``--output`` = the input folder, same format): even
    with --overwrite, translating must never replace the photos it reads."""
    sources = {Path(p).resolve() for p in inputs}
    for target in outputs:
        clash = target.resolve() in sources or (target.exists() and any(
            os.path.samefile(target, source) for source in sources if source.name.lower() == target.name.lower()))
        if clash:
            raise UserError(f"{target} is one of the input images; translating would replace it "
                            "(even with --overwrite): choose another --output folder")


def default_output(run_name: str) -> Path:
    return Path(RESULTS_DIR) / run_name


def plan_files(inputs: Sequence[str | Path], output: str | Path, fmt: str = "png", recursive: bool = False,
               overwrite: bool = False) -> FilePlan:
    """Expand the inputs, name the outputs and check the folder: every refusal before any work."""
    if fmt not in FORMATS:
        raise UserError(f"--format {fmt!r}: use one of {', '.join(sorted(FORMATS))}")
    paths = expand_inputs(inputs, recursive)
    output = Path(output).expanduser()
    outputs, notes = plan_outputs(paths, output, fmt)
    refuse_input_overwrite(paths, outputs)
    if not overwrite:
        refuse_existing(outputs)
    check_output_folder(output)
    return FilePlan(paths, outputs, output, fmt, notes, overwrite)


def refuse_existing(outputs: Sequence[Path]) -> None:
    existing = [p for p in outputs if p.exists()]
    if existing:
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        raise UserError(f"{existing[0]} already exists{more}; choose another --output or add --overwrite")


@contextmanager
def lock_output(plan: FilePlan) -> Iterator[None]:
    """Hold the plan's output folder for this run, or refuse in one line while another run writes
    there. The outputs are checked again under the lock: a run that finished in between wrote them."""
    folder = plan.output_dir
    with hold_lock(folder / LOCK_FILE, lambda holder: f"--output {folder} is in use by another "
                   f"cyclegan-translate run ({holder}); wait for it to finish, or choose another --output"):
        if not plan.overwrite:
            refuse_existing(plan.outputs)
        yield


def translate_files(translator: Translator, inputs: Sequence[str | Path] | FilePlan, output: str | Path | None = None,
                    *, fmt: str = "png", recursive: bool = False, overwrite: bool = False,
                    with_input: bool = False, progress: bool = False,
                    log: Callable[[str], None] | None = None) -> FilesResult:
    """Translate image files (files, folders, globs) into ``output`` (default results/<run>/).

    ``with_input`` writes input and output side by side. ``log`` receives one line per renamed
    output and per skipped input (default: nothing is printed; the result lists them).
    """
    if isinstance(inputs, FilePlan):
        plan = inputs
    else:
        plan = plan_files(inputs, output if output is not None else default_output(translator.name), fmt,
                          recursive, overwrite)
    with lock_output(plan):
        return _translate_plan(translator, plan, with_input, progress, log)


def _translate_plan(translator: Translator, plan: FilePlan, with_input: bool, progress: bool,
                    log: Callable[[str], None] | None) -> FilesResult:
    say = log or (lambda line: None)
    for note in plan.notes:
        say(note)
    result = FilesResult(plan.output_dir, len(plan.inputs))
    start = time.perf_counter()
    bar = progress_bar(total=len(plan.inputs), desc=f"{translator.name} {translator.direction}", unit="img",
               disable=not progress, dynamic_ncols=True)

    def skip(path: Path, why: str) -> None:
        result.failed.append((path, why))
        say(f"skipped {path}: {why}")

    def flush(batch: list) -> None:
        if not batch:
            return
        results = translator.translate_images([image for _, _, image in batch])
        for (source, target, image), translated in zip(batch, results):
            if with_input:
                before, alpha = prepare_image(image, translator.size, 3)
                translated = side_by_side(attach_alpha(before, alpha), translated)
            try:
                atomic_write_bytes(target, encode(translated, plan.fmt))
                result.written.append(target)
            except OSError as exc:
                if getattr(exc, "errno", None) in NO_ROOM:   # every file after it would fail the same way
                    raise WriteFailed(target, exc, f"run the same command with --overwrite ({len(result.written)} "
                                                   "translations were written before it)") from None
                skip(source, f"cannot write {target} ({exc.strerror or exc})")
        bar.update(len(batch))

    batch: list = []
    try:
        for source, target in zip(plan.inputs, plan.outputs):
            try:
                with Image.open(source) as opened:
                    image = upright(opened)  # decodes fully; upright from here on
            except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError) as exc:
                skip(source, f"not a readable image ({type(exc).__name__}: {str(exc)[:120]})")
                bar.update(1)
                continue
            too_small = translator.too_small(*image.size) if translator.size is None else None
            if too_small:
                skip(source, f"{too_small} (enlarge it, e.g. with --size {translator.min_size})")
                bar.update(1)
                continue
            too_large = translator.too_large(*image.size)
            if too_large:
                skip(source, too_large)
                bar.update(1)
                continue
            if batch and (image.size != batch[0][2].size or len(batch) >= translator.batch_size):
                flush(batch)
                batch = []
            batch.append((source, target, image))
        flush(batch)
    except KeyboardInterrupt:
        result.interrupted = True
    finally:
        bar.close()
        result.seconds = time.perf_counter() - start
    return result
