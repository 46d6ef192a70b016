"""cyclegan-translate in the reference's test.py form: its options, its results folder and page."""
import re

import numpy as np
import pytest
import torch
from PIL import Image

from cyclegan.cli.translate import main
from cyclegan.nets import create_generator

NGF = 4


def write_image(path, size, seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """checkpoints/ with a bare reference-style run (latest_net_G.pth) and a CycleGAN-style one
    (G_A, G_B, iter_3_net_G.pth), and a dataset with testA/ (one in a subfolder) and testB/."""
    monkeypatch.chdir(tmp_path)
    torch.manual_seed(0)
    pretrained = tmp_path / "checkpoints" / "h2z_pretrained"
    pretrained.mkdir(parents=True)
    torch.save(create_generator("resnet_6blocks", ngf=NGF).state_dict(), pretrained / "latest_net_G.pth")
    torch.save(create_generator("resnet_6blocks", ngf=NGF).state_dict(), pretrained / "iter_3_net_G.pth")
    pair = tmp_path / "checkpoints" / "h2z"
    pair.mkdir()
    for net in ("G_A", "G_B"):
        torch.save(create_generator("resnet_6blocks", ngf=NGF).state_dict(), pair / f"latest_net_{net}.pth")
    for i, size in enumerate([(70, 50), (40, 40), (33, 61)]):
        write_image(tmp_path / "ds" / "testA" / f"horse{i}.jpg", size, i)
    write_image(tmp_path / "ds" / "testA" / "more" / "foal.png", (48, 48), 7)
    for i in range(2):
        write_image(tmp_path / "ds" / "testB" / f"zebra{i}.png", (64, 64), 10 + i)
    return tmp_path


def page_rows(page):
    """(header, [(image src, label), ...]) per input, read back from index.html."""
    text = page.read_text()
    rows = []
    for header, table in re.findall(r"<h3>(.*?)</h3>\s*<table.*?>(.*?)</table>", text, re.S):
        cells = re.findall(r'<img src="(.*?)".*?<p>(.*?)</p>', table, re.S)
        rows.append((header, cells))
    return rows


def test_model_test_writes_real_and_fake_per_image_and_the_page(workdir, capsys):
    assert main(["--dataroot", "ds/testA", "--name", "h2z_pretrained", "--model", "test", "--no_dropout"]) == 0
    out = workdir / "results" / "h2z_pretrained" / "test_latest"
    names = sorted(p.name for p in (out / "images").iterdir())
    stems = ["foal", "horse0", "horse1", "horse2"]   # subfolders are read too, as the reference's dataset does
    assert names == sorted(f"{s}_{label}.png" for s in stems for label in ("real", "fake"))
    for name in names:
        with Image.open(out / "images" / name) as image:
            assert image.size == (256, 256) and image.mode == "RGB"   # test defaults: resize_and_crop to 256
    rows = page_rows(out / "index.html")
    assert [header for header, _ in rows] == ["horse0", "horse1", "horse2", "foal"]   # sorted by path
    assert rows[0][1] == [("images/horse0_real.png", "real"), ("images/horse0_fake.png", "fake")]
    assert "Experiment = h2z_pretrained, Phase = test, Epoch = latest" in (out / "index.html").read_text()
    assert "4 inputs" in capsys.readouterr().err


def test_real_image_is_the_input_as_the_network_saw_it(workdir):
    assert main(["--dataroot", "ds/testA", "--name", "h2z_pretrained", "--num_test", "2",
                 "--load_size", "32", "--crop_size", "32", "-q"]) == 0
    images = workdir / "results" / "h2z_pretrained" / "test_latest" / "images"
    assert len(list(images.iterdir())) == 4                       # --num_test 2
    with Image.open(workdir / "ds" / "testA" / "horse1.jpg") as source:
        expected = np.asarray(source.convert("RGB").resize((32, 32), Image.BICUBIC))
    assert np.array_equal(np.asarray(Image.open(images / "horse1_real.png")), expected)


def test_model_cycle_gan_writes_the_six_visuals_from_phase_A_and_B(workdir):
    assert main(["--dataroot", "ds", "--name", "h2z", "--model", "cycle_gan", "--load_size", "64",
                 "--crop_size", "64", "--gpu_ids", "-1", "-q"]) == 0
    out = workdir / "results" / "h2z" / "test_latest"
    labels = ("real_A", "fake_B", "rec_A", "real_B", "fake_A", "rec_B")
    stems = ["foal", "horse0", "horse1", "horse2"]   # max(|A|, |B|) inputs, named after A; B wraps around
    assert sorted(p.name for p in (out / "images").iterdir()) == sorted(f"{s}_{l}.png" for s in stems for l in labels)
    assert [cells for _, cells in page_rows(out / "index.html")][0] == [(f"images/horse0_{l}.png", l) for l in labels]
    zebra1 = np.asarray(Image.open(workdir / "ds" / "testB" / "zebra1.png"))
    assert np.array_equal(np.asarray(Image.open(out / "images" / "horse1_real_B.png")), zebra1)


def test_direction_BtoA_names_results_after_phase_B(workdir):
    assert main(["--dataroot", "ds", "--name", "h2z", "--model", "cycle_gan", "--direction", "BtoA",
                 "--load_size", "64", "--crop_size", "64", "--results_dir", "elsewhere", "-q"]) == 0
    names = {p.name.split("_")[0] for p in (workdir / "elsewhere" / "h2z" / "test_latest" / "images").iterdir()}
    assert names == {"zebra0", "zebra1", "zebra0-2", "zebra1-2"}   # B wraps: the reference overwrites, we number


def test_model_suffix_load_iter_epoch_phase_and_aspect_ratio(workdir):
    assert main(["--dataroot", "ds/testB", "--name", "h2z", "--model_suffix", "_B", "-q",
                 "--load_size", "32", "--crop_size", "32", "--aspect_ratio", "2.0"]) == 0
    with Image.open(workdir / "results" / "h2z" / "test_latest" / "images" / "zebra0_fake.png") as image:
        assert image.size == (32, 64)      # the reference's save_image: height x aspect_ratio
    assert main(["--dataroot", "ds/testB", "--name", "h2z_pretrained", "--load_iter", "3", "--phase", "val",
                 "-q", "--load_size", "32", "--crop_size", "32"]) == 0
    assert (workdir / "results" / "h2z_pretrained" / "val_latest_iter3" / "images" / "zebra1_fake.png").is_file()


def test_bare_unet_file_with_batch_norm_runs_in_train_mode_unless_eval(workdir):
    torch.manual_seed(1)
    G = create_generator("unet_128", ngf=NGF, norm="batch")
    with torch.no_grad():
        for module in G.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-1, 1)
    torch.save(G.state_dict(), workdir / "checkpoints" / "h2z_pretrained" / "latest_net_G.pth")
    common = ["--dataroot", "ds/testB", "--name", "h2z_pretrained", "--load_size", "128", "--crop_size", "128",
              "--no_dropout", "-q", "--num_test", "1"]
    assert main(common + ["--results_dir", "train_mode"]) == 0
    assert main(common + ["--results_dir", "eval_mode", "--eval"]) == 0
    train_mode = np.asarray(Image.open(workdir / "train_mode/h2z_pretrained/test_latest/images/zebra0_fake.png"))
    eval_mode = np.asarray(Image.open(workdir / "eval_mode/h2z_pretrained/test_latest/images/zebra0_fake.png"))
    assert train_mode.shape == eval_mode.shape == (128, 128, 3)
    assert not np.array_equal(train_mode, eval_mode)


@pytest.mark.parametrize("args, needle", [
    (["--model", "pix2pix"], "pix2pix"),
    (["--use_wandb"], "--use_wandb"),
    (["--dataset_mode", "aligned"], "--dataset_mode aligned"),
    (["--name", "nobody"], "no latest_net_G.pth"),
    (["--epoch", "9"], "available: iter_3, latest"),
    (["--model_suffix", "_A"], "no latest_net_G_A.pth"),
    (["--dataroot", "nowhere"], "nowhere is not a folder"),
    (["--model", "cycle_gan", "--name", "h2z", "--phase", "train"], "trainA is not a folder"),
    (["--num_test", "0"], "--num_test 0"),
    (["--load_size", "16", "--crop_size", "32"], "--crop_size 32 is larger"),
    (["--suffix", "{nothing}"], "--suffix"),
    (["--preprocess", "zoom"], "invalid choice"),
])
def test_what_cannot_be_honoured_is_one_line_and_exit_2(workdir, capsys, args, needle):
    argv = ["--dataroot", "ds/testA", "--name", "h2z_pretrained", "-q"]
    try:
        code = main(argv + args)
    except SystemExit as exit_:        # argparse's own usage errors
        code = exit_.code
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and needle in err[0], err
