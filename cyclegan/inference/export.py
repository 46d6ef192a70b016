"""Export one generator to TorchScript and ONNX, check it against eager PyTorch, describe it.

Files written to the output folder (``generator_<direction>.*``):

    .pt     TorchScript (torch.jit.script), runs with ``torch.jit.load`` and no cyclegan code
    .onnx   ONNX with dynamic batch, height and width (the torch.onnx dynamo exporter)
    .json   the sidecar: direction, architecture, input/output range and layout, the
            multiple-of-4 rule, the parity measured at export

    from cyclegan.inference.export import export_checkpoint
    export_checkpoint("checkpoints/forest2abstract", "exports/forest2abstract", direction="BtoA")

Each file is written to a temporary name, loaded back and compared with the eager network
on random images of two sizes and batch sizes (which also proves the axes are dynamic); it is
moved into place only when the largest absolute difference is below ``PARITY_TOLERANCE``.
"""
from __future__ import annotations

import importlib.util
import io
import json
import os
import tempfile
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from ..checkpoint import atomic_write_bytes
from ..errors import UserError
from .generators import GeneratorSource, build_generator, resolve_generator
from .translate import MULTIPLE, network_geometry

FORMATS = ("torchscript", "onnx")
EXTENSIONS = {"torchscript": ".pt", "onnx": ".onnx"}
PARITY_TOLERANCE = 1e-3          # fp32, values in [-1, 1]
PARITY_SHAPES = ((1, 3, 68, 92), (2, 3, 48, 40))   # two sizes and batch sizes: the axes must be dynamic
EXTRA_HINT = "install the export extra: pip install 'cyclegan[export]' (onnx, onnxscript, onnxruntime)"
EXPORTS_DIR = "exports"          # default output: exports/<run name>/
# The dynamo exporter writes opset 18 and up; asked for less, it tries a conversion that fails on
# the generators' Pad and silently keeps 18. The newest is what the installed onnx package knows.
MIN_OPSET = 18


@dataclass
class ExportResult:
    files: dict[str, Path] = field(default_factory=dict)
    parity: dict[str, float] = field(default_factory=dict)    # max abs difference against eager
    metadata: Path | None = None


def export_paths(output_dir: Path, direction: str, formats) -> dict[str, Path]:
    stem = f"generator_{direction}"
    paths = {fmt: output_dir / f"{stem}{EXTENSIONS[fmt]}" for fmt in formats}
    paths["metadata"] = output_dir / f"{stem}.json"
    return paths


def export_checkpoint(checkpoint=None, output_dir: Path | str | None = None, direction: str | None = None,
                      epoch: str = "latest", formats=FORMATS, *, netG: str | None = None, norm: str | None = None,
                      ngf: int | None = None, opset: int | None = None, check: bool = True, overwrite: bool = False,
                      log=print) -> ExportResult:
    """Export the generator of a run folder or weights file (None: the newest run under checkpoints/)
    to ``output_dir`` (default exports/<run>/)."""
    if "onnx" in formats:
        _check_opset(opset)      # before the checkpoint is even read
    source = resolve_generator(checkpoint, direction, epoch, netG=netG, norm=norm, ngf=ngf)
    output = Path(output_dir).expanduser() if output_dir is not None else Path(EXPORTS_DIR) / source.run_name
    if output.exists() and not output.is_dir():
        raise UserError(f"--output {output} is a file; give a folder")
    spec = source.spec
    log(f"{source.path} ({spec.netG} ngf {spec.ngf} norm {spec.norm}, {source.direction})")
    return export_generator(build_generator(source), source, output, formats, opset=opset, check=check,
                            overwrite=overwrite, log=log)


def export_generator(generator: nn.Module, source: GeneratorSource, output_dir: Path, formats=FORMATS,
                     opset: int | None = None, check: bool = True, overwrite: bool = False,
                     log=print) -> ExportResult:
    """Export ``generator`` (fp32, CPU) in each format; raises UserError when parity fails."""
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise UserError(f"--format {unknown[0]!r}: use {', '.join(FORMATS)} or both")
    output_dir = Path(output_dir)
    paths = export_paths(output_dir, source.direction, formats)
    existing = [p for p in paths.values() if p.exists()]
    if existing and not overwrite:
        raise UserError(f"{existing[0]} already exists; choose another --output or add --overwrite")
    if "onnx" in formats:
        _require_onnx(check)
        _check_opset(opset)
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"--output {output_dir} cannot be created ({exc.strerror or exc})") from None

    generator = generator.float().cpu().eval()
    generator.to(memory_format=torch.contiguous_format)
    torch.manual_seed(0)
    multiple = network_geometry(generator)[0]
    inputs = [torch.rand(shape) * 2 - 1 for shape in parity_shapes(multiple)]
    with torch.inference_mode():
        expected = [generator(x) for x in inputs]

    result = ExportResult()
    opset_used = None
    for fmt in formats:
        if fmt == "torchscript":
            data = _torchscript_bytes(generator)
            if check:
                with warnings.catch_warnings(), torch.inference_mode():
                    warnings.filterwarnings("ignore", message=".*torch.jit.*deprecated.*")
                    loaded = torch.jit.load(io.BytesIO(data), map_location="cpu")
                    outputs = [loaded(x) for x in inputs]
                result.parity[fmt] = _max_diff(outputs, expected)
                _judge(fmt, result.parity[fmt], log)
            atomic_write_bytes(paths[fmt], data)
        else:
            data, opset_used = _onnx_bytes(generator, source, opset)
            if check:
                result.parity[fmt] = _max_diff(_run_onnx(data, inputs), expected)
                _judge(fmt, result.parity[fmt], log)
            atomic_write_bytes(paths[fmt], data)
        result.files[fmt] = paths[fmt]
        log(f"wrote {paths[fmt]} ({paths[fmt].stat().st_size / 2 ** 20:.1f} MB)")

    metadata = describe(source, {fmt: p.name for fmt, p in result.files.items()}, result.parity, opset_used,
                        multiple)
    atomic_write_bytes(paths["metadata"], (json.dumps(metadata, indent=2) + "\n").encode())
    result.metadata = paths["metadata"]
    log(f"wrote {paths['metadata']}")
    return result


def parity_shapes(multiple: int = MULTIPLE) -> tuple[tuple[int, ...], ...]:
    """PARITY_SHAPES for a ResNet; for a network with a larger multiple (a U-Net), sides of that multiple."""
    if multiple <= MULTIPLE:
        return PARITY_SHAPES
    return ((1, 3, multiple, 2 * multiple), (2, 3, multiple, multiple))


def describe(source: GeneratorSource, files: dict[str, str], parity: dict[str, float], opset: int | None,
             multiple: int = MULTIPLE) -> dict:
    """The sidecar: what a deployment needs to feed the model and read its answer."""
    return {
        "format_version": 1,
        "model": "cyclegan-generator",
        "direction": source.direction,
        "run": source.run_name,
        "checkpoint": str(source.path),
        "architecture": asdict(source.spec),
        "files": files,
        "onnx_opset": opset,
        "input": {
            "name": "image", "layout": "NCHW", "dtype": "float32",
            "channels": "RGB" if source.spec.input_nc == 3 else "gray",
            "range": [-1.0, 1.0], "from_uint8": "x = pixel / 127.5 - 1",
            "height_width_multiple_of": multiple,
            "other_sizes": f"reflection-pad the bottom/right edges to a multiple of {multiple}, "
                           "translate, crop the output back",
            "dynamic_axes": ["batch", "height", "width"],
        },
        "output": {
            "name": "translated", "layout": "NCHW", "dtype": "float32", "range": [-1.0, 1.0],
            "to_uint8": "pixel = round((y + 1) * 127.5), clipped to 0..255",
            "channels": "RGB" if source.spec.output_nc == 3 else "gray",
        },
        "parity_max_abs_diff": parity,
        "parity_tolerance": PARITY_TOLERANCE,
        "torch_version": torch.__version__,
    }


def _judge(fmt: str, diff: float, log) -> None:
    verdict = "ok" if diff < PARITY_TOLERANCE else "FAILED"
    log(f"parity {fmt}: max abs diff vs eager PyTorch {diff:.2e} (must be < {PARITY_TOLERANCE:g}) {verdict}")
    if diff >= PARITY_TOLERANCE:
        raise UserError(f"{fmt} export differs from eager PyTorch by {diff:.2e} (>= {PARITY_TOLERANCE:g}); "
                        "nothing was written for it")


def _max_diff(outputs, expected) -> float:
    return max(float((torch.as_tensor(o) - e).abs().max()) for o, e in zip(outputs, expected))


def _torchscript_bytes(generator: nn.Module) -> bytes:
    with warnings.catch_warnings():
        # torch.jit is deprecated in favour of torch.export, but it is still what C++/mobile
        # runtimes and older deployments load; the warning is ours to know, not the user's.
        warnings.filterwarnings("ignore", message=".*torch.jit.*deprecated.*")
        scripted = torch.jit.script(generator)
        buffer = io.BytesIO()
        torch.jit.save(scripted, buffer)
    return buffer.getvalue()


def _require_onnx(check: bool) -> None:
    missing = [name for name in ("onnx", "onnxscript") + (("onnxruntime",) if check else ())
               if not _importable(name)]
    if missing:
        raise UserError(f"ONNX export needs {', '.join(missing)}: {EXTRA_HINT}")


def _check_opset(opset: int | None) -> None:
    """Refuse an opset the exporter cannot write, before any work."""
    if opset is None or not _importable("onnx"):   # without onnx, _require_onnx says what to install
        return
    import onnx  # only when ONNX is asked for

    newest = onnx.defs.onnx_opset_version()
    if not MIN_OPSET <= opset <= newest:
        raise UserError(f"--opset {opset}: the exporter writes opsets {MIN_OPSET} to {newest}; choose one of "
                        "those, or leave --opset out for its default")


def _importable(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def _onnx_bytes(generator: nn.Module, source: GeneratorSource, opset: int | None) -> tuple[bytes, int]:
    import onnx  # an optional extra, and slow to import: only when ONNX is asked for

    multiple = network_geometry(generator)[0]
    side = max(64, 2 * multiple)
    example = torch.rand(1, source.spec.input_nc, side, side) * 2 - 1
    # Height and width are declared as 4 x (a free size): the generator's rule, visible in the graph
    # (a U-Net's multiple is 2**num_downs instead of 4). The example is at least twice the multiple:
    # traced at a free size of 1, the exporter would fix that size; parity then checks the multiple itself.
    least = 2
    batch, h4, w4 = torch.export.Dim("batch"), torch.export.Dim("h4", min=least), torch.export.Dim("w4", min=least)
    options = {"opset_version": opset} if opset is not None else {}
    fd, tmp = tempfile.mkstemp(suffix=".onnx")
    os.close(fd)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(generator, (example,), tmp, dynamo=True, input_names=["image"],
                              output_names=["translated"], external_data=False, verbose=False,
                              dynamic_shapes={"x": {0: batch, 2: multiple * h4, 3: multiple * w4}}, **options)
        model = onnx.load(tmp)
    except UserError:
        raise
    except Exception as exc:  # the exporter's errors are long; the first line says what failed
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"ONNX export failed ({type(exc).__name__}: {first[:200]})") from None
    finally:
        os.unlink(tmp)
    opset_used = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    if opset is not None and opset_used != opset:   # the exporter keeps its own when a conversion fails
        raise UserError(f"--opset {opset}: the exporter could only write opset {opset_used}; nothing was written "
                        "for ONNX (leave --opset out, or choose another)")
    onnx.helper.set_model_props(model, {"direction": source.direction, "input_range": "[-1, 1]",
                                        "height_width_multiple_of": str(multiple), "run": source.run_name,
                                        "architecture": json.dumps(asdict(source.spec))})
    onnx.checker.check_model(model)
    return model.SerializeToString(), opset_used


def _run_onnx(data: bytes, inputs) -> list:
    import onnxruntime as ort  # an optional extra, and slow to import: only for the ONNX parity check

    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return [session.run(None, {name: x.numpy()})[0] for x in inputs]
