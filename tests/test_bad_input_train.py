"""What bad input gets from cyclegan-train: one line naming the option or file, exit code 2, no
traceback, and nothing written. (Translation, export, evaluation and the report: see
test_bad_input_translate.py; every numeric rule: test_hardening.py.)"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image

from cyclegan.cli.train import main as train_main

TINY = ["--ngf", "8", "--ndf", "8", "--netG", "resnet_6blocks", "--load_size", "36", "--crop_size", "32",
        "--num_threads", "0", "--no-progress", "--display", "none", "--max-steps", "1"]


@pytest.fixture
def domains(photo_domains, tmp_path):
    _, domain_A, domain_B = photo_domains
    return ["--domainA", str(domain_A), "--domainB", str(domain_B), "--checkpoints_dir", str(tmp_path / "runs")]


def one_line_exit_2(argv, capsys) -> str:
    try:
        code = train_main(argv)
    except SystemExit as exc:   # argparse's own errors
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2, err
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


BAD_OPTIONS = [  # (extra arguments, a fragment of the one line)
    (["--ngf", "0"], "--ngf 0"),
    (["--ngf", "-4"], "--ngf -4"),
    (["--ndf", "0"], "--ndf 0"),
    (["--n_layers_D", "9"], "--n_layers_D"),
    (["--num_threads", "-1"], "--num_threads -1"),
    (["--beta1", "2"], "--beta1 2"),
    (["--init_gain", "nan"], "--init_gain nan"),
    (["--seed", str(2 ** 70)], "--seed"),
    (["--lr", "inf"], "--lr inf"),
    (["--lambda_A", "nan"], "--lambda_A nan"),
    (["--load_size", "100000", "--crop_size", "100000"], "--load_size 100000"),
    (["--crop_size", "64"], "--crop_size"),
    (["--batch_size", "0"], "--batch_size 0"),
    (["--max_dataset_size", "0"], "--max_dataset_size"),
    (["--lr_policy", "plateau"], "plateau"),
    (["--gpu_ids", "0,1"], "torchrun"),
    (["--input_nc", "1"], "--input_nc 1"),
    (["--dataset_mode", "aligned"], "--dataset_mode aligned"),
    (["--load_iter", "3"], "--load_iter"),
    (["--direction", "XtoY"], "--direction"),
    (["--netG", "unet_256"], "unet_256"),
    (["--display_port", "0"], "--display_port"),
    (["--eval_freq", "-1"], "--eval_freq"),
    (["--n_epochs", "0", "--n_epochs_decay", "0"], "--n_epochs"),
]


@pytest.mark.parametrize("extra, fragment", BAD_OPTIONS, ids=[" ".join(e) for e, _ in BAD_OPTIONS])
def test_a_bad_option_is_one_line_and_nothing_is_written(domains, extra, fragment, capsys, tmp_path):
    line = one_line_exit_2([*domains, *TINY, *extra], capsys)
    assert fragment in line
    assert not (tmp_path / "runs").exists()


def test_a_domain_of_only_truncated_jpegs(tmp_path, photo_domains, capsys):
    _, domain_A, _ = photo_domains
    broken = tmp_path / "broken"
    broken.mkdir()
    for i, path in enumerate(sorted((domain_A / "train").iterdir())[:3]):
        data = path.read_bytes() if path.suffix == ".jpg" else _jpeg_bytes(path)
        (broken / f"{i}.jpg").write_bytes(data[: len(data) // 3])
    line = one_line_exit_2(["--domainA", str(broken), "--domainB", str(domain_A), *TINY,
                            "--checkpoints_dir", str(tmp_path / "runs")], capsys)
    assert "broken" in line


def _jpeg_bytes(path: Path) -> bytes:
    out = path.with_suffix(".tmp.jpg")
    Image.open(path).convert("RGB").save(out, quality=90)
    data = out.read_bytes()
    out.unlink()
    return data


def test_a_dataroot_with_a_non_utf8_name(tmp_path, capsys):
    root = Path(os.fsdecode(bytes(tmp_path) + b"/caf\xe9"))
    root.mkdir()
    line = one_line_exit_2(["--dataroot", str(root), *TINY, "--checkpoints_dir", str(tmp_path / "runs")], capsys)
    assert "--dataroot" in line and "trainA" in line


def test_a_model_that_cannot_honour_an_option(domains, capsys, photo_domains):
    _, domain_A, _ = photo_domains
    line = one_line_exit_2(["--model", "dcgan", "--domainA", str(domain_A), "--image_size", "32", "--ngf", "8",
                            "--ndf", "8", "--compile", "on", "--max-steps", "1", "--no-progress"], capsys)
    assert "--model dcgan does not support --compile on" in line


def test_a_run_named_after_a_non_utf8_folder_trains_and_prints(photo_domains, tmp_path):
    import shutil
    import subprocess
    import sys
    _, domain_A, domain_B = photo_domains
    odd = Path(os.fsdecode(bytes(tmp_path) + b"/for\xeat"))
    shutil.copytree(domain_A, odd)
    done = subprocess.run([sys.executable, "-m", "cyclegan.cli.train", "--domainA", str(odd), "--domainB",
                           str(domain_B), *TINY, "--checkpoints_dir", str(tmp_path / "runs"), "--precision", "fp32"],
                          cwd=tmp_path, capture_output=True, env={**os.environ, "PYTHONIOENCODING": "utf-8",
                                                                  "PYTHONPATH": str(Path(__file__).parents[1])})
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert b"trained 1 steps" in done.stdout and b"Traceback" not in done.stderr


@pytest.mark.parametrize("model", ["cut", "fastcut", "dcgan"])
def test_ema_is_refused_by_models_that_keep_no_weight_average(model, photo_domains, tmp_path, capsys):
    _, domain_A, domain_B = photo_domains
    data = ["--domainA", str(domain_A)] + ([] if model == "dcgan" else ["--domainB", str(domain_B)])
    size = ["--image_size", "32"] if model == "dcgan" else ["--load_size", "36", "--crop_size", "32"]
    line = one_line_exit_2(["--model", model, *data, *size, "--ngf", "8", "--ndf", "8", "--ema", "0.99",
                            "--max-steps", "1", "--no-progress", "--checkpoints_dir", str(tmp_path / "runs")], capsys)
    assert f"--model {model} does not support --ema" in line and "--model cyclegan" in line, line
    assert not (tmp_path / "runs").exists()
