"""Bad input about the run folder and the run's data, found by an attack on cyclegan-train: each
gets one line (exit code 2) or a one-line warning, and nothing of the user's is lost.

A user's own folder with the run's name, run names that leave --checkpoints_dir, --continue_train
with settings other than the run's, images of several sizes in one batch, and a damaged test photo
at the end of a --time run or under --eval_freq."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import tiny_config
from cyclegan.cli.train import main as train_main
from cyclegan.config_checks import check_config
from cyclegan.data.transforms import Preprocess, check_one_size
from cyclegan.errors import UserError
from test_bad_input_train import TINY, one_line_exit_2
from cyclegan.runfolder import RunFolder


@pytest.fixture
def domains(photo_domains, tmp_path):
    _, domain_A, domain_B = photo_domains
    return ["--domainA", str(domain_A), "--domainB", str(domain_B), "--checkpoints_dir", str(tmp_path / "runs")]


def trained(argv, capsys):
    """Run cyclegan-train, expect success; what it printed (.out, .err)."""
    code = train_main(argv)
    printed = capsys.readouterr()
    assert code == 0 and "Traceback" not in printed.err, printed.err
    return printed


# --- a user's folder named like the run ------------------------------------------------------

def test_a_users_own_folder_with_the_run_name_is_refused_and_left_alone(domains, tmp_path, capsys):
    mine = tmp_path / "runs" / "userproj"
    (mine / "web").mkdir(parents=True)
    (mine / "config.json").write_text('{"my": "settings"}\n')
    (mine / "web" / "index.html").write_text("<p>my page</p>\n")
    line = one_line_exit_2([*domains, *TINY, "--name", "userproj"], capsys)
    assert str(mine) in line and "is not a cyclegan run" in line and "--name" in line
    assert (mine / "config.json").read_text() == '{"my": "settings"}\n'
    assert (mine / "web" / "index.html").read_text() == "<p>my page</p>\n"
    assert sorted(p.name for p in mine.iterdir()) == ["config.json", "web"]   # no lock file left in it


def test_an_empty_existing_folder_is_fine(domains, tmp_path, capsys):
    (tmp_path / "runs" / "fresh").mkdir(parents=True)
    trained([*domains, *TINY, "--name", "fresh"], capsys)
    assert (tmp_path / "runs" / "fresh" / "latest_net_G_A.pth").is_file()


# --- run names that leave --checkpoints_dir ----------------------------------------------------

ESCAPING = [["--name", "../x"], ["--name", "/abs"], ["--name", "a/b"], ["--name", ".."], ["--name", "."],
            ["--name", "a\\b"], ["--name", "tiny", "--suffix", "../../x"]]


@pytest.mark.parametrize("extra", ESCAPING, ids=[" ".join(e) for e in ESCAPING])
def test_a_run_name_is_one_plain_folder_name(domains, extra, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = sorted(tmp_path.rglob("*"))
    line = one_line_exit_2([*domains, *TINY, *extra], capsys)
    assert "not one plain folder name" in line and extra[-2] in line
    assert sorted(tmp_path.rglob("*")) == before   # nothing written, inside or outside --checkpoints_dir


def test_a_notebook_config_is_checked_too(photo_domains, tmp_path):
    _, domain_A, domain_B = photo_domains
    for name in ("../x", "a\0b", "."):
        with pytest.raises(UserError, match="--name: the run name"):
            check_config(tiny_config(domain_A, domain_B, tmp_path, name=name))


# --- --continue_train with settings other than the run's ---------------------------------------

@pytest.fixture(scope="module")
def saved_runs(photo_domains, tmp_path_factory):
    """A one-step CycleGAN run and a one-step CUT run, both named tiny (in two folders)."""
    _, domain_A, domain_B = photo_domains
    root = tmp_path_factory.mktemp("resume")
    data = ["--domainA", str(domain_A), "--domainB", str(domain_B)]
    cut = ["--model", "cut", "--num_patches", "64", "--netF_nc", "64"]
    assert train_main([*data, *TINY, "--name", "tiny", "--checkpoints_dir", str(root / "cyclegan")]) == 0
    assert train_main([*data, *TINY, *cut, "--name", "tiny", "--checkpoints_dir", str(root / "cut")]) == 0
    return root, data


MISMATCHES = [  # (which run, extra options, what the run was trained with, what was given)
    ("cyclegan", ["--model", "cut", "--num_patches", "64"], "--model cyclegan", "--model cut"),
    ("cut", [], "--model cut", "--model cyclegan"),   # and CUT's --netF_nc 64, not the default 256
    ("cyclegan", ["--ngf", "16", "--netG", "resnet_9blocks"], "--ngf 8 --netG resnet_6blocks",
     "--ngf 16 --netG resnet_9blocks"),
    ("cyclegan", ["--load_size", "52", "--crop_size", "48"], "--crop_size 32", "--crop_size 48"),
]


@pytest.mark.parametrize("run, extra, was, given", MISMATCHES, ids=[" ".join(m[1]) or "no --model" for m in MISMATCHES])
def test_resuming_with_other_settings_names_every_difference(saved_runs, run, extra, was, given, capsys):
    root, data = saved_runs
    folder = root / run / "tiny"
    written = lambda: {p.name: p.stat().st_mtime_ns for p in folder.iterdir() if p.name != ".lock"}  # noqa: E731
    before = written()
    line = one_line_exit_2([*data, *TINY, *extra, "--name", "tiny", "--checkpoints_dir", str(root / run),
                            "--continue_train", "--max-steps", "2"], capsys)
    assert line.startswith("cyclegan-train: error: --continue_train: the run in")
    assert f"trained with {was}" in line and f"not {given}" in line and f"resume with {was}" in line
    assert line.endswith("or choose a new --name")
    assert written() == before


def test_resuming_without_repeating_the_architecture_takes_the_runs_own(saved_runs):
    root, data = saved_runs
    # the run was trained with --ngf 8 --ndf 8 --netG resnet_6blocks --crop_size 32; none repeated here
    assert train_main([*data, "--load_size", "36", "--num_threads", "0", "--no-progress", "--display", "none",
                       "--name", "tiny", "--checkpoints_dir", str(root / "cyclegan"), "--continue_train",
                       "--max-steps", "2"]) == 0
    saved = RunFolder(root / "cyclegan" / "tiny").read_config()
    assert (saved.model.ngf, saved.model.netG, saved.data.crop_size) == (8, "resnet_6blocks", 32)


def test_resuming_a_cyclegan_run_as_a_dcgan(saved_runs, capsys):
    root, data = saved_runs
    line = one_line_exit_2(["--model", "dcgan", data[0], data[1], "--image_size", "32", "--ngf", "8", "--ndf", "8",
                            "--name", "tiny", "--checkpoints_dir", str(root / "cyclegan"), "--continue_train",
                            "--max-steps", "2", "--no-progress", "--display", "none"], capsys)
    assert "trained with --model cyclegan" in line and "not --model dcgan" in line


def test_settings_of_a_newer_version_are_named_in_a_warning(saved_runs, tmp_path, capsys):
    root, data = saved_runs
    shutil.copytree(root / "cyclegan", tmp_path / "runs")
    config_file = tmp_path / "runs" / "tiny" / "config.json"
    settings = json.loads(config_file.read_text())
    settings["train"]["future_knob"] = 3
    settings["plugins"] = {}
    config_file.write_text(json.dumps(settings))
    with pytest.warns(UserWarning, match="future_knob") as record:
        trained([*data, *TINY, "--name", "tiny", "--checkpoints_dir", str(tmp_path / "runs"),
                 "--continue_train", "--max-steps", "2"], capsys)
    warning = next(str(w.message) for w in record if "future_knob" in str(w.message))
    assert "(plugins, train.future_knob)" in warning and "newer version" in warning and "\n" not in warning


# --- images of several sizes in one batch ------------------------------------------------------

def mixed_domain(folder: Path, sizes: list[tuple[int, int]]) -> Path:
    (folder / "train").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i, (width, height) in enumerate(sizes):
        pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / "train" / f"{i}.png")
    return folder


@pytest.mark.parametrize("preprocess", ["none", "scale_width"])
def test_images_of_several_sizes_in_one_batch_are_refused_up_front(tmp_path, capsys, preprocess):
    A = mixed_domain(tmp_path / "A", [(40, 40), (40, 64), (40, 40), (40, 64)])
    B = mixed_domain(tmp_path / "B", [(40, 40)] * 4)
    line = one_line_exit_2(["--domainA", str(A), "--domainB", str(B), *TINY, "--checkpoints_dir",
                            str(tmp_path / "runs"), "--preprocess", preprocess, "--batch_size", "2"], capsys)
    assert f"--preprocess {preprocess} with --batch_size 2" in line and str(A) in line
    assert "--batch_size 1" in line and "--preprocess resize_and_crop" in line
    assert not (tmp_path / "runs").exists()


def test_the_size_check_knows_what_scale_width_makes_of_each_image():
    """36 wide, the height by the aspect ratio but at least --crop_size (32), then a multiple of 4."""
    preprocess = Preprocess("scale_width", load_size=36, crop_size=32)
    assert preprocess.output_size(40, 40) == (36, 36) and preprocess.output_size(48, 40) == (36, 32)
    assert preprocess.output_size(48, 44) == (36, 32)
    assert Preprocess("none", crop_size=32).output_size(41, 39) == (40, 40)   # nudged to multiples of 4


def test_same_sized_results_pass(tmp_path):
    folder = mixed_domain(tmp_path / "A", [(48, 40), (48, 44)])
    check_one_size(sorted((folder / "train").iterdir()), Preprocess("scale_width", 36, 32), 2, "A")


def test_images_of_several_sizes_train_and_resume_one_at_a_time(tmp_path, capsys):
    """--batch_size 1: the history pools hold fakes of several sizes, and are saved and restored."""
    A = mixed_domain(tmp_path / "A", [(40, 40), (48, 40), (40, 40), (48, 40)])
    B = mixed_domain(tmp_path / "B", [(40, 48), (40, 40)])
    argv = ["--domainA", str(A), "--domainB", str(B), *TINY, "--checkpoints_dir", str(tmp_path / "runs"),
            "--preprocess", "none", "--pool_size", "4", "--name", "mixed"]
    trained([*argv, "--max-steps", "3"], capsys)
    trained([*argv, "--max-steps", "5", "--continue_train"], capsys)


# --- a damaged test photo --------------------------------------------------------------------

def domain_with_a_damaged_test_photo(photo_domain: Path, folder: Path) -> Path:
    """The photo domain's train/ and six test photos, one of them a truncated JPEG (its header reads)."""
    shutil.copytree(photo_domain / "train", folder / "train")
    (folder / "test").mkdir()
    photos = sorted((photo_domain / "test").iterdir())
    for i in range(6):
        photo = Image.open(photos[i % len(photos)]).convert("RGB").resize((160, 160))   # data well past the header
        photo.save(folder / "test" / f"{i}.jpg", quality=90)
    damaged = folder / "test" / "3.jpg"
    data = damaged.read_bytes()
    damaged.write_bytes(data[: len(data) // 2])
    return damaged


def test_a_damaged_test_photo_is_skipped_at_the_end_of_a_time_run(photo_domains, tmp_path, capsys):
    _, domain_A, domain_B = photo_domains
    damaged = domain_with_a_damaged_test_photo(domain_A, tmp_path / "A")
    with pytest.warns(UserWarning, match="cannot be decoded") as record:
        printed = trained(["--domainA", str(tmp_path / "A"), "--domainB", str(domain_B), *TINY[:-2],
                           "--checkpoints_dir", str(tmp_path / "runs"), "--name", "timed", "--time", "2s"], capsys)
    named = [str(w.message) for w in record if str(damaged) in str(w.message)]
    in_split = [m for m in named if m.startswith("the test split:")]
    assert len(in_split) == 1 and f"skipped {damaged}, which cannot be decoded (image file is truncated" in in_split[0]
    assert all("\n" not in m for m in named)
    results = tmp_path / "runs" / "timed" / "test_results"
    assert sorted(p.name for p in results.iterdir()) == ["0.png", "1.png", "2.png", "4.png", "5.png"]
    assert f"translated the test photos of domain A to {results}" in printed.out


def test_a_damaged_test_photo_is_skipped_by_eval_freq(photo_domains, tmp_path, capsys):
    _, domain_A, domain_B = photo_domains
    damaged = domain_with_a_damaged_test_photo(domain_A, tmp_path / "A")
    with pytest.warns(UserWarning, match="cannot be decoded") as record:
        err = trained(["--domainA", str(tmp_path / "A"), "--domainB", str(domain_B), *TINY,
                       "--checkpoints_dir", str(tmp_path / "runs"), "--eval_freq", "1"], capsys).err
    assert any(str(damaged) in str(w.message) for w in record)
    assert "KID every 1 steps on 5 + 4 test images" in err
