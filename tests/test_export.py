"""cyclegan-export: TorchScript and ONNX files that match eager PyTorch, with a sidecar JSON."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from cyclegan.cli.export import main
from cyclegan.inference.generators import build_generator, resolve_generator

from test_translate import make_run

onnxruntime = pytest.importorskip("onnxruntime", reason="the export extra (onnx, onnxscript, onnxruntime)")


def test_export_both_formats_parity_dynamic_axes_and_sidecar(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    make_run(tmp_path)
    assert main(["--direction", "BtoA"]) == 0
    err = capsys.readouterr().err
    assert "parity torchscript: max abs diff" in err and "parity onnx: max abs diff" in err
    out = tmp_path / "exports" / "tiny"
    meta = json.loads((out / "generator_BtoA.json").read_text())
    assert meta["direction"] == "BtoA" and meta["input"]["range"] == [-1.0, 1.0]
    assert meta["input"]["height_width_multiple_of"] == 4 and meta["architecture"]["netG"] == "resnet_6blocks"
    assert meta["onnx_opset"] >= 18
    assert all(diff < 1e-3 for diff in meta["parity_max_abs_diff"].values())

    # Independently of the export's own check: a new size and batch through both files.
    eager = build_generator(resolve_generator("checkpoints/tiny", "BtoA"))
    x = torch.rand(3, 3, 36, 52) * 2 - 1
    with torch.no_grad():
        expected = eager(x).numpy()
        scripted = torch.jit.load(str(out / "generator_BtoA.pt"))(x).numpy()
    session = onnxruntime.InferenceSession(str(out / "generator_BtoA.onnx"), providers=["CPUExecutionProvider"])
    from_onnx = session.run(None, {"image": x.numpy()})[0]
    assert np.abs(scripted - expected).max() < 1e-3 and np.abs(from_onnx - expected).max() < 1e-3

    # Existing files are kept unless asked.
    before = (out / "generator_BtoA.pt").read_bytes()
    assert main(["--direction", "BtoA", "--format", "torchscript"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert (out / "generator_BtoA.pt").read_bytes() == before


def test_export_bad_checkpoint_is_one_line_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main([]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no training run found under checkpoints/" in err[0]


def test_an_opset_is_honoured_or_refused_in_one_line(tmp_path, monkeypatch, capsys):
    import onnx
    monkeypatch.chdir(tmp_path)
    make_run(tmp_path)
    for asked in ("3", "17", "999"):   # below what the exporter writes, or newer than onnx knows
        assert main(["--format", "onnx", "--opset", asked]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"--opset {asked}: the exporter writes opsets 18 to" in err[0], err
        assert not (tmp_path / "exports").exists()
    assert main(["--format", "onnx", "--opset", "19"]) == 0
    out = tmp_path / "exports" / "tiny"
    written = onnx.load(str(out / "generator_AtoB.onnx"))
    assert [o.version for o in written.opset_import if o.domain in ("", "ai.onnx")] == [19]
    assert json.loads((out / "generator_AtoB.json").read_text())["onnx_opset"] == 19
