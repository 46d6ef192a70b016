"""DCGAN baseline: networks, single-domain data, training through the ordinary loop, the
per-epoch sample grids and their animation, cyclegan-sample, and the digits quality bar."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from cyclegan.models import use_model
from cyclegan.checkpoint import load_torch_file
from cyclegan.runfolder import STATE_FILE
from cyclegan.cli.sample import main as sample_main
from cyclegan.config import Config
from cyclegan.data.single import SingleDomainDataset, load_single_domain
from loaders import epoch_loader
from cyclegan.errors import UserError
from cyclegan.nets.dcgan import DCGANDiscriminator, DCGANGenerator, create_dcgan
from cyclegan.inference.sample import load_dcgan_discriminator, load_dcgan_generator, sample, to_pil
from cyclegan import train
from cyclegan.training.dcgan_step import DCGAN
from cyclegan.loss_log import read_log

ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
TINY = ["--model", "dcgan", "--image_size", "32", "--ngf", "8", "--ndf", "8", "--nz", "16",
        "--batch_size", "4", "--num_threads", "0", "--no-progress"]


def call(main, args, capsys) -> tuple[int, str, str]:
    """A CLI's main in this process (no interpreter start-up): exit code, stdout, stderr."""
    try:
        code = main([str(a) for a in args])
    except SystemExit as exc:  # argparse usage errors
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def run(module: str, *args, cwd):
    return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=240, env=ENV)


def pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path))


def tiny_dcgan_config(domain, run_root, **train_overrides) -> Config:
    cfg = use_model(Config(), "dcgan")
    m = cfg.model
    m.image_size, m.channels, m.nz, m.ngf, m.ndf = 32, 3, 16, 8, 8
    cfg.data.domainA, cfg.data.batch_size, cfg.data.num_threads = str(domain), 4, 0
    t = cfg.train
    t.checkpoints_dir, t.name, t.print_freq, t.progress, t.display = str(run_root), "tiny", 1, False, "none"
    t.n_epochs, t.n_epochs_decay = 2, 0
    for key, value in train_overrides.items():
        setattr(t, key, value)
    return cfg


# -- networks ---------------------------------------------------------------------------------

@pytest.mark.parametrize("size", [32, 64, 128])
@pytest.mark.parametrize("channels", [1, 3])
def test_networks_map_noise_to_images_and_images_to_one_logit(size, channels):
    G, D = create_dcgan(nz=16, ngf=8, ndf=8, channels=channels, image_size=size)
    images = G(torch.randn(3, 16, 1, 1))
    assert images.shape == (3, channels, size, size)
    assert images.abs().max() <= 1.0                      # tanh output
    assert G(torch.randn(3, 16)).shape == images.shape    # N x nz accepted too
    assert D(images).shape == (3,)
    # One more stride-2 stage per doubling of the side: 4 -> 8 -> ... -> size.
    stages = int(np.log2(size)) - 1
    assert sum(isinstance(m, nn.ConvTranspose2d) for m in G.modules()) == stages
    assert sum(isinstance(m, nn.Conv2d) for m in D.modules()) == stages


def test_architecture_follows_the_paper():
    G, D = DCGANGenerator(nz=100, ngf=64, channels=3, image_size=64), DCGANDiscriminator(ndf=64, image_size=64)
    g, d = list(G.main), list(D.main)
    # Generator: 100 -> 512 x 4 x 4 -> 256 -> 128 -> 64 -> 3 x 64 x 64, BN + ReLU between, tanh out.
    widths = [m.out_channels for m in g if isinstance(m, nn.ConvTranspose2d)]
    assert widths == [512, 256, 128, 64, 3]
    assert sum(isinstance(m, nn.BatchNorm2d) for m in g) == 4 and isinstance(g[-1], nn.Tanh)
    assert all(isinstance(m, nn.ReLU) for m in g if isinstance(m, (nn.ReLU, nn.LeakyReLU)))
    # Discriminator: no batch norm after the first conv, from the second on; LeakyReLU 0.2; a logit out.
    assert isinstance(d[0], nn.Conv2d) and isinstance(d[1], nn.LeakyReLU) and isinstance(d[3], nn.BatchNorm2d)
    assert all(m.negative_slope == 0.2 for m in d if isinstance(m, nn.LeakyReLU))
    assert [m.out_channels for m in d if isinstance(m, nn.Conv2d)] == [64, 128, 256, 512, 1]
    assert isinstance(d[-1], nn.Conv2d)  # no sigmoid: the loss works on logits


def test_initialisation_is_normal_0_02_and_batch_norm_scale_around_1():
    torch.manual_seed(0)
    G, D = create_dcgan(nz=100, ngf=32, ndf=32, channels=3, image_size=64)
    convs = torch.cat([m.weight.flatten() for net in (G, D) for m in net.modules()
                       if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))])
    scales = torch.cat([m.weight for net in (G, D) for m in net.modules() if isinstance(m, nn.BatchNorm2d)])
    assert abs(convs.mean()) < 1e-3 and abs(convs.std() - 0.02) < 1e-3
    assert abs(scales.mean() - 1.0) < 0.005 and abs(scales.std() - 0.02) < 0.005


@pytest.mark.parametrize("kwargs, option", [({"image_size": 48}, "--image_size"), ({"channels": 2}, "--channels")])
def test_unsupported_sizes_are_user_errors(kwargs, option):
    with pytest.raises(UserError, match=option):
        create_dcgan(**kwargs)


# -- data -------------------------------------------------------------------------------------

def test_single_domain_items_are_resized_center_cropped_and_batched_like_unaligned(tmp_path):
    folder = tmp_path / "wide"
    folder.mkdir()
    # 60x30: left third black, middle white, right third black. Center crop keeps the white.
    stripes = np.zeros((30, 60, 3), np.uint8)
    stripes[:, 20:40] = 255
    for i in range(5):
        Image.fromarray(stripes).save(folder / f"{i}.png")
    cfg = use_model(Config(), "dcgan")
    cfg.model.image_size, cfg.model.channels = 32, 1
    cfg.data.domainA, cfg.data.no_flip = str(folder), True
    dataset = load_single_domain(cfg)
    assert isinstance(dataset, SingleDomainDataset) and len(dataset) == 5
    item = dataset[(2, 1234)]["A"]
    assert item.shape == (1, 32, 32)
    assert item[0, :, 10:22].min() > 0.9 and item[0, :, :3].max() < -0.9  # white centre, black edges
    batches = list(epoch_loader(dataset, batch_size=2, seed=0, epoch=1, shuffle=True))
    assert [b["A"].shape[0] for b in batches] == [2, 2, 1] and set(batches[0]) >= {"A"}
    again = list(epoch_loader(dataset, batch_size=2, seed=0, epoch=1, shuffle=True, start_batch=1))
    assert torch.equal(again[0]["A"], batches[1]["A"])  # resume mid-epoch sees the same data


def test_single_domain_needs_a_domain_with_images(tmp_path):
    cfg = use_model(Config(), "dcgan")
    with pytest.raises(UserError, match="--domainA"):
        load_single_domain(cfg)
    (tmp_path / "empty").mkdir()
    cfg.data.domainA = str(tmp_path / "empty")
    with pytest.raises(UserError, match="no images"):
        load_single_domain(cfg)


# -- training ---------------------------------------------------------------------------------

def test_cli_trains_resumes_and_renders_fixed_noise_grids(photo_domains, tmp_path):
    _, domain_A, _ = photo_domains   # 12 photos in train/
    first = run("cyclegan.cli.train", "--domainA", str(domain_A), "--n_epochs", "2", *TINY, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "cyclegan-sample --checkpoint" in first.stdout
    run_dir = tmp_path / "checkpoints" / f"{domain_A.name}_dcgan"
    assert {p.name for p in run_dir.glob("*.pth")} == {"latest_net_G.pth", "latest_net_D.pth", STATE_FILE}
    config = json.loads((run_dir / "config.json").read_text())
    assert config["model"]["model"] == "dcgan" and config["model"]["nz"] == 16
    assert config["train"]["beta1"] == 0.5 and config["data"]["batch_size"] == 4  # flags beat DCGAN_SETTINGS
    samples = run_dir / "samples"
    assert sorted(p.name for p in samples.glob("epoch_*.png")) == ["epoch_000.png", "epoch_001.png", "epoch_002.png"]
    grid = Image.open(samples / "epoch_002.png")
    assert grid.size == (8 * 34 + 2, 8 * 34 + 2)  # 8 x 8 fixed-noise images of 32 px, 2 px apart
    with Image.open(samples / "training.gif") as gif:
        assert gif.n_frames == 3
    # Each grid shows the generator of its epoch (how much it learns is test_short_training_on_digits...).
    assert not np.array_equal(pixels(samples / "epoch_000.png"), pixels(samples / "epoch_002.png"))

    resumed = run("cyclegan.cli.train", "--domainA", str(domain_A), "--n_epochs", "3", "--continue_train", *TINY,
                  cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert load_torch_file(run_dir / STATE_FILE)["progress"] == {"epoch": 4, "batch": 0, "step": 9}
    assert (samples / "epoch_003.png").is_file()
    with Image.open(samples / "training.gif") as gif:
        assert gif.n_frames == 4
    log = read_log(run_dir / "loss_log.jsonl")
    assert [r["step"] for r in log] == [3, 6, 9] and {"D", "G", "D_real", "D_fake"} <= set(log[-1])


def test_resume_gives_identical_weights_and_fixed_noise(photo_domains, tmp_path):
    _, domain_A, _ = photo_domains
    straight = train(tiny_dcgan_config(domain_A, tmp_path / "straight", max_steps=5)).run_dir
    train(tiny_dcgan_config(domain_A, tmp_path / "split", max_steps=2))
    split = train(tiny_dcgan_config(domain_A, tmp_path / "split", max_steps=5, continue_train=True)).run_dir
    a, b = (load_torch_file(r / STATE_FILE)["model"] for r in (straight, split))
    for net in ("G", "D"):
        assert all(torch.equal(a["nets"][net][k], b["nets"][net][k]) for k in a["nets"][net])
    assert torch.equal(a["fixed_noise"], b["fixed_noise"])


def test_dry_run_stops_after_two_steps(photo_domains, tmp_path):
    _, domain_A, _ = photo_domains
    done = run("cyclegan.cli.train", "--domainA", str(domain_A), "--dry-run", *TINY, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    run_dir = tmp_path / "checkpoints" / f"{domain_A.name}_dcgan"
    assert load_torch_file(run_dir / STATE_FILE)["progress"]["step"] == 2
    assert (run_dir / "samples" / "training.gif").is_file()


def test_a_training_step_returns_the_losses_and_moves_both_networks(photo_domains, tmp_path):
    _, domain_A, _ = photo_domains
    cfg = tiny_dcgan_config(domain_A, tmp_path)
    model = DCGAN(cfg, torch.device("cpu"))
    before = {name: [p.detach().clone() for p in net.parameters()] for name, net in model.nets.items()}
    fixed = model.fixed_samples()
    losses = model.train_batch({"A": torch.rand(4, 3, 32, 32) * 2 - 1})
    assert set(losses) == {"D", "G", "D_real", "D_fake"} and all(np.isfinite(v) for v in losses.values())
    for name, net in model.nets.items():
        assert any(not torch.equal(p, q) for p, q in zip(before[name], net.parameters())), name
    assert set(model.current_visuals()) == {"real", "fake"}
    assert fixed.shape == (64, 3, 32, 32)


def test_an_epoch_skips_its_last_partial_batch_but_never_all_batches(photo_domains, tmp_path):
    """Batch norm on a leftover batch of a few images gives a noisy step: DCGAN epochs drop it
    (12 images at batch 5: 2 steps, not 3); CycleGAN keeps every batch, like the reference."""
    from cyclegan.data.unaligned import batches_per_epoch
    from cyclegan.training.registry import model_entry
    _, domain_A, _ = photo_domains
    cfg = tiny_dcgan_config(domain_A, tmp_path, n_epochs=2)
    cfg.data.batch_size = 5
    result = train(cfg)
    assert result.step == 4
    assert [b["A"].shape[0] for b in epoch_loader(load_single_domain(cfg), batch_size=5, seed=0, epoch=1,
                                                  shuffle=True, drop_last=True)] == [5, 5]
    dcgan = model_entry("dcgan")
    assert dcgan.drops_last(12, 5) and not dcgan.drops_last(4, 5)  # 4 images: keep the one batch
    assert not model_entry("cyclegan").drops_last(12, 5)  # models that do not ask keep their last batch
    assert batches_per_epoch(12, 5, drop_last=True) == 2 and batches_per_epoch(12, 5) == 3


@pytest.mark.parametrize("args, message", [
    (["--domainA", "x", "--domainB", "x"], "drop --domainB"),
    ([], "--domainA"),
    (["--domainA", "nowhere"], "does not exist"),
    (["--domainA", "x", "--image_size", "48"], "--image_size"),
    (["--domainA", "x", "--channels", "2"], "--channels"),
])
def test_train_cli_errors_are_one_line(photo_domains, tmp_path, monkeypatch, capsys, args, message):
    from cyclegan.cli.train import main as train_main
    _, domain_A, _ = photo_domains
    (tmp_path / "datasets").mkdir()
    (tmp_path / "datasets" / "x").symlink_to(domain_A)
    monkeypatch.chdir(tmp_path)
    code, _, err = call(train_main, ["--model", "dcgan", *args, "--max-steps", "1", "--no-progress"], capsys)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and message in lines[0], err
    assert not (tmp_path / "checkpoints").exists()


# -- cyclegan-sample ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def dcgan_run(photo_domains, tmp_path_factory):
    _, domain_A, _ = photo_domains
    return train(tiny_dcgan_config(domain_A, tmp_path_factory.mktemp("runs"), max_steps=4)).run_dir


def test_sample_writes_n_images_repeatably_by_seed(dcgan_run, tmp_path, capsys):
    assert sample_main(["--checkpoint", str(dcgan_run), "-n", "12", "--output", str(tmp_path / "a"),
                        "--seed", "5", "--device", "cpu"]) == 0
    files = sorted((tmp_path / "a").iterdir())
    assert [p.name for p in files] == [f"sample_{i:03d}.png" for i in range(12)]
    assert Image.open(files[0]).size == (32, 32) and Image.open(files[0]).mode == "RGB"
    assert "seed 5" in capsys.readouterr().out
    sample_main(["--checkpoint", str(dcgan_run), "-n", "4", "--output", str(tmp_path / "b"), "--seed", "5"])
    sample_main(["--checkpoint", str(dcgan_run), "-n", "4", "--output", str(tmp_path / "c"), "--seed", "6"])
    for i in range(4):  # the same seed is the same stream, whatever -n is
        assert np.array_equal(pixels(tmp_path / "a" / f"sample_{i:03d}.png"), pixels(tmp_path / "b" / f"sample_{i:03d}.png"))
    assert not np.array_equal(pixels(tmp_path / "b" / "sample_000.png"), pixels(tmp_path / "c" / "sample_000.png"))
    # The library gives the same images as the command.
    images = sample(load_dcgan_generator(dcgan_run), 4, seed=5)
    assert np.array_equal(np.asarray(to_pil(images[3])), pixels(tmp_path / "a" / "sample_003.png"))


def test_sample_grid_and_interpolation(dcgan_run, tmp_path):
    out = tmp_path / "out"
    assert sample_main(["--checkpoint", str(dcgan_run), "-n", "16", "--output", str(out), "--grid", "--seed", "1"]) == 0
    assert [p.name for p in out.iterdir()] == ["grid.png"]
    assert Image.open(out / "grid.png").size == (4 * 34 + 2, 4 * 34 + 2)

    walk = tmp_path / "walk"
    assert sample_main(["--checkpoint", str(dcgan_run), "-n", "6", "--output", str(walk), "--interpolate",
                        "--seed", "3", "--end-seed", "8"]) == 0
    frames = [pixels(walk / f"interp_{i:03d}.png").astype(int) for i in range(6)]
    ends = tmp_path / "ends"
    for seed in (3, 8):
        sample_main(["--checkpoint", str(dcgan_run), "-n", "1", "--output", str(ends / str(seed)), "--seed", str(seed)])
    assert np.abs(frames[0] - pixels(ends / "3" / "sample_000.png")).max() <= 1
    assert np.abs(frames[-1] - pixels(ends / "8" / "sample_000.png")).max() <= 1
    steps = [np.abs(frames[i + 1] - frames[i]).mean() for i in range(5)]
    assert max(steps) < np.abs(frames[-1] - frames[0]).mean()  # a walk, not a jump
    assert sample_main(["--checkpoint", str(dcgan_run), "-n", "6", "--output", str(walk), "--interpolate",
                        "--grid", "--seed", "3"]) == 0
    assert (walk / "interpolation.png").is_file()


def test_sample_never_overwrites_without_being_asked(dcgan_run, tmp_path):
    out = tmp_path / "out"
    args = ["--checkpoint", str(dcgan_run), "-n", "3", "--output", str(out), "--seed", "1"]
    assert sample_main(args) == 0
    (out / "sample_001.png").write_bytes(b"mine")
    done = run("cyclegan.cli.sample", *args, cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "--overwrite" in done.stderr
    assert (out / "sample_001.png").read_bytes() == b"mine"
    assert sample_main([*args, "--overwrite"]) == 0
    assert Image.open(out / "sample_001.png").size == (32, 32)


def test_sample_errors_are_one_line(dcgan_run, tmp_path, capsys):
    cyclegan_run = tmp_path / "cg"
    cyclegan_run.mkdir()
    Config().save_json(cyclegan_run / "config.json")  # what a CycleGAN run folder holds
    cases = [
        (["--checkpoint", tmp_path / "nowhere"], "no such run folder"),
        (["--checkpoint", cyclegan_run], "cyclegan-translate"),
        (["--checkpoint", dcgan_run, "-n", "0"], "-n 0"),
        (["--checkpoint", dcgan_run, "-n", "1", "--interpolate"], "at least 2"),
        (["--checkpoint", dcgan_run, "-n", "two"], "-n"),
        (["-n", "2"], "--checkpoint"),
        (["--checkpoint", dcgan_run, "--oversample", "0.5"], "--oversample 0.5"),
        (["--checkpoint", dcgan_run, "-n", "4", "--interpolate", "--oversample", "2"], "--oversample"),
    ]
    for args, message in cases:
        code, _, err = call(sample_main, [*args, "--output", tmp_path / "o"], capsys)
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and message in lines[0], (args, err)
    assert not (tmp_path / "o").exists()


class Brightness(nn.Module):
    """A stand-in discriminator whose verdict is plain to check: brighter is 'more real'."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, x):
        return x.mean(dim=(1, 2, 3)) * self.scale


def test_oversampling_keeps_the_candidates_the_discriminator_rates_most_real(dcgan_run):
    G = load_dcgan_generator(dcgan_run)
    candidates = sample(G, 15, seed=4)            # 2.5 x 6 rounds up to 15
    kept = sample(G, 6, seed=4, discriminator=Brightness(), oversample=2.5)
    brightness = candidates.mean(dim=(1, 2, 3))
    chosen = sorted(brightness.topk(6).indices.tolist())  # in the order they were drawn
    assert torch.equal(kept, candidates[chosen])
    assert kept.mean(dim=(1, 2, 3)).min() >= brightness.median()
    plain = sample(G, 6, seed=4, discriminator=Brightness(), oversample=1)  # keeps every image
    assert torch.allclose(plain, candidates[:6], atol=1e-6)  # (a batch of 6, not 15: last-bit differences)


def test_sample_oversample_uses_the_runs_discriminator(dcgan_run, tmp_path, capsys):
    out = tmp_path / "best"
    assert sample_main(["--checkpoint", str(dcgan_run), "-n", "5", "--output", str(out), "--seed", "2",
                        "--oversample", "3"]) == 0
    assert "the 5 of 15 the discriminator rates most real" in capsys.readouterr().out
    G, D = load_dcgan_generator(dcgan_run), load_dcgan_discriminator(dcgan_run)
    expected = sample(G, 5, seed=2, discriminator=D, oversample=3)
    for i in range(5):
        assert np.array_equal(np.asarray(to_pil(expected[i])), pixels(out / f"sample_{i:03d}.png"))
    # A run folder holding only the generator says what is missing, in one line.
    bare = tmp_path / "bare"
    bare.mkdir()
    for name in ("config.json", "latest_net_G.pth"):
        (bare / name).write_bytes((dcgan_run / name).read_bytes())
    code, _, err = call(sample_main, ["--checkpoint", bare, "-n", "2", "--output", tmp_path / "o",
                                      "--oversample", "2"], capsys)
    assert code == 2 and err.count("\n") == 1 and "latest_net_D.pth" in err, err
    assert not (tmp_path / "o").exists()


# -- the quality bar, short version ------------------------------------------------------------

def test_nearest_distances_flag_copies_and_skip_the_image_itself():
    from cyclegan.metrics.digits import load_digit_images, nearest_distances
    images, _ = load_digit_images()
    pool = images[:300]
    copies = nearest_distances(pool[:5], pool)
    assert torch.allclose(copies, torch.zeros(5), atol=1e-6)
    others = nearest_distances(pool, pool, same_set=True)
    assert (others > 0.05).all()  # no two of these digits are identical
    brute = min(float((pool[7] - pool[j]).pow(2).mean().sqrt()) for j in range(300) if j != 7)
    assert others[7].item() == pytest.approx(brute, rel=1e-5)
    blank = torch.full((1, 1, 32, 32), -1.0)
    assert nearest_distances(blank, blank + 0.5).item() == pytest.approx(0.5, rel=1e-6)


def test_short_training_on_digits_beats_the_untrained_generator(tmp_path):
    """The issue's digits benchmark in miniature: a judge CNN, a short DCGAN run through the
    ordinary loop, and the three measures on 500 samples, trained vs untrained."""
    from cyclegan.metrics.digits import build_judge, load_digit_images, measure, write_digit_folder
    judge = build_judge(seed=0, epochs=8)
    assert judge.held_out_accuracy >= 0.97  # the bar for the judge
    images, _ = load_digit_images()
    cfg = tiny_dcgan_config(write_digit_folder(images, tmp_path / "digits"), tmp_path / "runs")
    cfg.model.channels, cfg.model.ngf, cfg.model.ndf = 1, 16, 16      # nz 100, as in the paper
    cfg.model.nz = 100
    cfg.data.batch_size, cfg.data.no_flip = 32, True                  # 57 steps per epoch
    cfg.train.n_epochs, cfg.train.lr, cfg.train.print_freq = 4, 1e-3, 100  # a faster start than 2e-4
    untrained = DCGAN(cfg, torch.device("cpu")).G
    trained = load_dcgan_generator(train(cfg).run_dir)
    before = measure(judge.model, sample(untrained, 500, seed=1), judge.reference_features)
    after = measure(judge.model, sample(trained, 500, seed=1), judge.reference_features)
    assert after.confident >= before.confident + 0.1, (before, after)
    assert after.classes_present >= before.classes_present + 3, (before, after)
    assert after.frechet < 0.5 * before.frechet, (before, after)


# -- any -n: batches, and a refusal for what must be held whole ----------------------------------

def test_latents_drawn_in_chunks_are_the_one_stream():
    from cyclegan.inference.sample import latent_batches, latents
    for nz in (1, 3, 100):
        for n in (1, 5, 16, 17, 33, 100, 257):
            for chunk in (16, 32):
                assert torch.equal(torch.cat(list(latent_batches(nz, n, 7, chunk))), latents(nz, n, 7)), (nz, n, chunk)


def test_batched_sampling_gives_the_very_images_of_sample(monkeypatch):
    import cyclegan.inference.sample as sampling
    monkeypatch.setattr(sampling, "LATENT_CHUNK", 256)      # 600 images: chunks of 256 and 344
    torch.manual_seed(0)
    G = DCGANGenerator(16, 8, 3, 32).eval()
    batches = list(sampling.sample_batches(G, 600, seed=3))
    assert len(batches) == 2 and torch.equal(torch.cat(batches), sample(G, 600, seed=3))
    kept = list(sampling.sample_batches(G, 200, seed=3, discriminator=Brightness(), oversample=3))
    assert torch.equal(torch.cat(kept), sample(G, 200, seed=3, discriminator=Brightness(), oversample=3))
    walk = torch.cat(list(sampling.walk_batches(G, 1, 2, 300)))
    assert torch.equal(walk, sampling.sample_latents(G, sampling.interpolate_latents(16, 1, 2, 300)))


def test_files_are_written_batch_by_batch_and_existing_ones_found_by_one_look(dcgan_run, tmp_path, monkeypatch):
    import cyclegan.inference.sample as sampling
    monkeypatch.setattr(sampling, "LATENT_CHUNK", 16)
    out = tmp_path / "out"
    out.mkdir()
    (out / "sample_0001.png").write_bytes(b"another numbering")     # not one of -n 40's names
    done = sampling.write_samples(dcgan_run, out, 40, seed=2)
    expected = sample(load_dcgan_generator(dcgan_run), 40, seed=2)
    for i in (0, 17, 39):
        assert np.array_equal(np.asarray(to_pil(expected[i])), pixels(out / f"sample_{i:03d}.png"))
    assert done.where == out and len(list(out.iterdir())) == 41
    assert sampling.existing_files(out, 50, grid=False, interpolate=False)[:2] == ["sample_000.png", "sample_001.png"]
    assert sampling.existing_files(out, 10000, grid=False, interpolate=False) == ["sample_0001.png"]   # 4 digits


@pytest.mark.parametrize("extra, phrase", [
    (["-n", str(10 ** 12), "--grid"], "a grid of that many images needs about"),
    (["-n", str(10 ** 9), "--oversample", "2"], "the best 1000000000 of 2000000000 candidates (--oversample)"),
])
def test_what_cannot_fit_in_memory_is_refused_in_one_line(dcgan_run, tmp_path, capsys, extra, phrase):
    code, _, err = call(sample_main, ["--checkpoint", dcgan_run, "--output", tmp_path / "o", *extra], capsys)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and phrase in lines[0] and "is available" in lines[0], err
    assert not (tmp_path / "o").exists()


def test_the_memory_limit_is_an_argument(dcgan_run, tmp_path):
    from cyclegan.inference.sample import write_samples
    with pytest.raises(UserError, match=r"-n 64: a grid of that many images needs about 0 MiB of memory and 0 MiB"):
        write_samples(dcgan_run, tmp_path / "o", 64, grid=True, memory_limit=1000)
    write_samples(dcgan_run, tmp_path / "o", 64, memory_limit=1000)     # files: nothing held whole
    assert len(list((tmp_path / "o").iterdir())) == 64
