"""Bad input to translate, export, eval and report: one line on stderr, exit 2, no traceback.

One table: each case sets up its files, runs a command in this process (an uncaught exception
fails the test, so a traceback cannot pass) and names a phrase the one line must hold.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from cyclegan.cli import eval as eval_cli
from cyclegan.cli import export as export_cli
from cyclegan.cli import report as report_cli
from cyclegan.cli import translate as translate_cli
from cyclegan.config import Config
from cyclegan.nets import create_discriminator, create_generator
from cyclegan.runfolder import RunFolder

RUN = "checkpoints/tiny"


def photo(path, size=(40, 32), seed=0):
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A tiny run folder (config.json, G_A/G_B/D_A/D_B) and photos in photos/."""
    monkeypatch.chdir(tmp_path)
    cfg = Config()
    cfg.model.netG, cfg.model.ngf, cfg.model.ndf = "resnet_6blocks", 4, 4
    run = RunFolder(tmp_path / RUN)
    run.path.mkdir(parents=True)
    run.write_config(cfg)
    torch.manual_seed(0)
    for net in ("G_A", "G_B"):
        torch.save(create_generator("resnet_6blocks", ngf=4).state_dict(), run.weights(net))
    for net in ("D_A", "D_B"):
        torch.save(create_discriminator("basic", ndf=4).state_dict(), run.weights(net))
    (tmp_path / "photos").mkdir()
    photo(tmp_path / "photos" / "a.png")
    photo(tmp_path / "photos" / "b.png", seed=1)
    return tmp_path


# --------------------------------------------------------------------------- set-ups

def one_pixel(root):
    Image.new("RGB", (1, 1), "red").save(root / "dot.png")


def config_text(text):
    def setup(root):
        (root / RUN / "config.json").write_text(text)
    return setup


CONFIGS = {
    "empty": ("", "not valid JSON"),
    "not JSON": ("{netG: resnet", "not valid JSON"),
    "a list": ("[1, 2, 3]", "JSON object of settings, not a list"),
    "wrong types": ('{"model": {"ngf": "wide"}, "data": {}, "train": {}}', "model.ngf is \"wide\""),
}

COMMANDS = {
    "translate": (translate_cli.main, ["photos/a.png", "--checkpoint", RUN, "-o", "out", "-q"]),
    "export": (export_cli.main, ["--checkpoint", RUN, "--output", "exported", "--skip_check"]),
    "eval": (eval_cli.main, ["--checkpoint", RUN, "--features", "random", "--no-progress"]),
    "report": (report_cli.main, [RUN, "--no-mp4"]),
}

CASES = [
    # (case id, set-up, command, argv, phrase in the one line)
    ("translate a 1x1 image", one_pixel, translate_cli.main, ["dot.png", "--checkpoint", RUN, "-o", "out", "-q"],
     "needs at least 8 x 8"),
    ("translate --size 4", None, translate_cli.main, ["photos", "--checkpoint", RUN, "-o", "out", "-q", "--size", "4"],
     "--size 4 is too small"),
    ("translate into the input folder with --overwrite", None, translate_cli.main,
     ["photos", "--checkpoint", RUN, "-o", "photos", "--overwrite", "-q"], "is one of the input images"),
    ("translate a file onto itself with --overwrite", None, translate_cli.main,
     ["photos/a.png", "--checkpoint", RUN, "-o", "photos", "--overwrite", "-q"], "is one of the input images"),
    ("reference form, crop below the minimum", None, translate_cli.main,
     ["--dataroot", "photos", "--name", "tiny", "--model_suffix", "_A", "--load_size", "4", "--crop_size", "4",
      "--num_test", "1", "-q"],
     "needs at least 8 x 8"),
] + [
    (f"{command}: config.json {kind}", config_text(text), main, argv, phrase)
    for kind, (text, phrase) in CONFIGS.items() for command, (main, argv) in COMMANDS.items()
]


@pytest.mark.parametrize("setup, main, argv, phrase", [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_bad_input_gives_one_line_and_exit_2(workdir, capsys, setup, main, argv, phrase):
    if setup:
        setup(workdir)
    before = {p.name: p.read_bytes() for p in (workdir / "photos").iterdir()}
    code = main(argv)
    err = [line for line in capsys.readouterr().err.strip().splitlines() if line.strip()]
    assert code == 2, err
    assert len(err) == 1 and phrase in err[0], err
    assert {p.name: p.read_bytes() for p in (workdir / "photos").iterdir()} == before   # inputs untouched


def test_a_too_small_image_is_skipped_and_the_others_are_translated(workdir, capsys):
    one_pixel(workdir / "photos")
    assert translate_cli.main(["photos", "--checkpoint", RUN, "-o", "out", "-q"]) == 2
    err = capsys.readouterr().err
    assert "skipped" in err and "dot.png" in err and "needs at least 8 x 8" in err and "1 failed" in err
    assert sorted(p.name for p in (workdir / "out").iterdir() if not p.name.startswith(".")) == ["a.png", "b.png"]


def test_the_smallest_size_the_generator_takes_translates(workdir):
    Image.new("RGB", (8, 8), "blue").save(workdir / "eight.png")
    assert translate_cli.main(["eight.png", "--checkpoint", RUN, "-o", "out", "-q"]) == 0
    with Image.open(workdir / "out" / "eight.png") as image:
        assert image.size == (8, 8)


def test_a_second_run_into_the_same_output_is_refused_while_the_first_writes(workdir):
    """Two real processes: the first is stopped (SIGSTOP) while it holds --output, the second is
    refused in one line; the first then finishes; its results stay until --overwrite is given."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    command = [sys.executable, "-m", "cyclegan.cli.translate", "photos", "--checkpoint", RUN, "-o", "out", "-q"]
    lock = workdir / "out" / ".cyclegan-translate.lock"
    first = subprocess.Popen(command, cwd=workdir, env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (lock.exists() and "process" in lock.read_text()):   # written once the lock is held
            assert first.poll() is None and time.monotonic() < deadline, "the first run never held its output"
            time.sleep(0.01)
        os.kill(first.pid, signal.SIGSTOP)
        second = subprocess.run([*command, "--overwrite"], cwd=workdir, env=env, capture_output=True, text=True,
                                timeout=120)
        os.kill(first.pid, signal.SIGCONT)
        assert first.wait(timeout=120) == 0, first.stderr.read()
    finally:
        if first.poll() is None:
            os.kill(first.pid, signal.SIGCONT)
            first.kill()
    lines = second.stderr.strip().splitlines()
    assert second.returncode == 2 and len(lines) == 1, second.stderr
    assert f"--output out is in use by another cyclegan-translate run (process {first.pid})" in lines[0]
    results = {p.name: p.read_bytes() for p in (workdir / "out").iterdir()}
    assert sorted(results) == ["a.png", "b.png"]          # the first run's, and no lock file left

    # Afterwards: existing results are kept unless asked, as before.
    third = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, timeout=120)
    assert third.returncode == 2 and "already exists" in third.stderr and third.stderr.count("\n") == 1
    assert {p.name: p.read_bytes() for p in (workdir / "out").iterdir()} == results


def test_outputs_written_between_planning_and_locking_are_kept(workdir):
    from cyclegan.errors import UserError
    from cyclegan.inference.translate_files import lock_output, plan_files

    plan = plan_files(["photos"], workdir / "out")
    (workdir / "out" / "a.png").write_bytes(b"another run's result")
    with pytest.raises(UserError, match="a.png already exists"):
        with lock_output(plan):
            pass
    assert (workdir / "out" / "a.png").read_bytes() == b"another run's result"
    assert sorted(p.name for p in (workdir / "out").iterdir()) == ["a.png"]   # the lock file is gone too
