"""The reference's training options: each accepted with its meaning, or refused in one line."""
from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import tiny_config
from cyclegan import train
from cyclegan.errors import UserError
from cyclegan.compose.presets import plan_training
from cyclegan.compat.reference_options import TRAIN_OPTIONS, options_table, translate_reference_options
from cyclegan.runfolder import RunFolder
from cyclegan.training import learning_rate

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "cyclegan.cli.train"]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def test_the_docs_table_lists_every_option_as_the_code_handles_it():
    doc = (ROOT / "docs" / "REFERENCE_OPTIONS.md").read_text()
    assert options_table() in doc, "regenerate the table: python -c 'from cyclegan.compat.reference_options import " \
                                   "options_table; print(options_table())'"
    assert len(TRAIN_OPTIONS) >= 53


def test_every_reference_option_is_known_to_cyclegan_train():
    help_text = subprocess.run([*CLI, "--help"], capture_output=True, text=True, env=ENV).stdout
    missing = [o.name for o in TRAIN_OPTIONS if f"--{o.name}" not in help_text]
    assert not missing


@pytest.mark.parametrize("given, wanted", [
    ({"gpu_ids": "-1"}, {"device": "cpu"}),
    ({"gpu_ids": "1"}, {"device": "cuda:1"}),
    ({"display_id": -1}, {"display": "none"}),
    ({"display_id": 0}, {"display": "none"}),
    ({"display_id": 1}, {}),
    ({"lr_policy": "lambda"}, {"lr_policy": "linear"}),
    ({"dataset_mode": "unaligned", "load_iter": 0, "epoch": "latest", "input_nc": 3}, {"input_nc": 3}),
])
def test_reference_values_become_ours(given, wanted):
    assert translate_reference_options(given) == wanted


@pytest.mark.parametrize("given, message", [
    ({"gpu_ids": "0,1"}, "torchrun --nproc_per_node 2"),
    ({"gpu_ids": "x"}, "--gpu_ids 'x'"),
    ({"gpu_ids": "-1", "device": "cuda"}, "either --gpu_ids or --device"),
    ({"input_nc": 1}, "--input_nc 1: only 3"),
    ({"dataset_mode": "aligned"}, "--dataset_mode aligned"),
    ({"load_iter": 5}, "--continue_train"),
    ({"epoch": "10"}, "--epoch 10"),
    ({"lr_policy": "plateau"}, "never changes"),
])
def test_options_we_cannot_honour_are_refused_with_a_reason(given, message):
    with pytest.raises(UserError, match=re.escape(message)):
        translate_reference_options(given)


def test_ignored_cosmetic_options_warn():
    with pytest.warns(UserWarning, match="--display_ncols changes nothing here"):
        translate_reference_options({"display_ncols": 6})


def test_suffix_is_filled_from_the_options(tmp_path):
    plan = plan_training({"domainA": "x", "domainB": "y", "netG": "resnet_6blocks", "load_size": 72,
                          "suffix": "{netG}_size{load_size}"})
    assert plan.config.train.name == "x2y_resnet_6blocks_size72"
    with pytest.raises(UserError, match="--suffix"):
        plan_training({"domainA": "x", "domainB": "y", "suffix": "{nonsense}"})


def test_lr_policies_step_and_cosine_follow_the_reference():
    cfg = tiny_config("a", "b", "runs")
    cfg.train.lr, cfg.train.n_epochs, cfg.train.n_epochs_decay = 1.0, 10, 10
    cfg.train.lr_policy, cfg.train.lr_decay_iters = "step", 3
    assert [learning_rate(cfg, e) for e in (1, 3, 4, 7)] == pytest.approx([1.0, 1.0, 0.1, 0.01])
    cfg.train.lr_policy = "cosine"
    assert learning_rate(cfg, 1) == 1.0 and learning_rate(cfg, 6) == pytest.approx(0.5)
    assert learning_rate(cfg, 11) == pytest.approx(0.0, abs=1e-12)
    assert learning_rate(cfg, 16) == pytest.approx(0.5 * (1 + math.cos(math.pi * 1.5)))


def test_direction_btoa_swaps_the_domains_and_max_dataset_size_limits_them(photo_domains, tmp_path):
    _, domain_A, domain_B = photo_domains
    cfg = tiny_config(domain_A, domain_B, tmp_path / "runs", max_steps=1)
    cfg.data.direction, cfg.data.max_dataset_size, cfg.data.serial_batches = "BtoA", 2, True
    from cyclegan.data import load_training_data
    data = load_training_data(cfg.data)
    assert data.domain_A.train_dir == domain_B / "train" and len(data.dataset) == 2


def test_phase_save_by_iter_no_html_and_verbose(photo_domains, tmp_path):
    _, domain_A, domain_B = photo_domains
    root = tmp_path / "ref"
    for side, src in (("A", domain_A), ("B", domain_B)):
        (root / f"val{side}").mkdir(parents=True)
        for p in sorted((src / "train").iterdir())[:2]:
            (root / f"val{side}" / p.name).write_bytes(p.read_bytes())
    done = subprocess.run([*CLI, "--dataroot", str(root), "--phase", "val", "--save_by_iter", "--save_latest_freq",
                           "2", "--max-steps", "5", "--no_html", "--verbose", "--display_id", "-1", "--gpu_ids", "-1",
                           "--ngf", "8", "--ndf", "8", "--netG", "resnet_6blocks", "--load_size", "36", "--crop_size",
                           "32", "--num_threads", "0", "--no-progress", "--precision", "fp32"],
                          cwd=tmp_path, capture_output=True, text=True, env=ENV, timeout=240)
    assert done.returncode == 0, done.stderr
    run = RunFolder(tmp_path / "checkpoints" / "ref")
    assert run.weights("G_A", "iter_2").is_file() and run.weights("G_A", "iter_4").is_file()
    assert not run.web_dir.exists()
    assert "[network G_A]" in done.stderr and "M parameters" in done.stderr


def test_syncbatch_norm_trains_as_batch_norm_and_saves_batch_norm_keys(photo_domains, tmp_path):
    _, domain_A, domain_B = photo_domains
    cfg = tiny_config(domain_A, domain_B, tmp_path / "runs", max_steps=1)
    cfg.model.norm = "syncbatch"
    cfg.data.batch_size = 2
    run = RunFolder(train(cfg).run_dir)
    from cyclegan.checkpoint import load_torch_file
    assert any(k.endswith("running_mean") for k in load_torch_file(run.weights("G_A")))
