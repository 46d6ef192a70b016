import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from conftest import tiny_config
from cyclegan.checkpoint import load_torch_file
from cyclegan.runfolder import STATE_FILE
from cyclegan.config import Config
from cyclegan.errors import UserError
from cyclegan import train
from cyclegan.training import learning_rate
from cyclegan.data.images import load_rgb
from cyclegan.data.transforms import to_tensor
from cyclegan.training.cyclegan_step import CycleGAN
from cyclegan.loss_log import read_log
from cyclegan.inference.generators import load_generator

CLI = [sys.executable, "-m", "cyclegan.cli.train"]


def weights(run_dir: Path) -> dict[str, torch.Tensor]:
    state = load_torch_file(run_dir / STATE_FILE)
    return {f"{net}.{k}": v for net, sd in state["model"]["nets"].items() for k, v in sd.items()}


def test_learning_rate_is_constant_then_linear_to_zero():
    cfg = Config()
    cfg.train.n_epochs, cfg.train.n_epochs_decay, cfg.train.lr = 3, 4, 1.0
    rates = [learning_rate(cfg, e) for e in range(1, 8)]
    assert rates[:3] == [1.0, 1.0, 1.0]
    assert rates[3:] == pytest.approx([0.8, 0.6, 0.4, 0.2])  # 1 - k / (n_epochs_decay + 1)


def cycle_error(G_A, G_B, images: torch.Tensor) -> float:
    with torch.no_grad():
        return torch.nn.functional.l1_loss(G_B.eval()(G_A.eval()(images)), images).item()


def test_short_training_lowers_the_cycle_error(photo_domains, tmp_path):
    """Train a few dozen steps on two photos per domain: A -> B -> A reconstructs them clearly better."""
    _, domain_A, domain_B = photo_domains
    for name, source in (("A", domain_A), ("B", domain_B)):
        (tmp_path / name).mkdir()
        for path in sorted((source / "train").iterdir())[:2]:
            (tmp_path / name / path.name).write_bytes(path.read_bytes())
    cfg = tiny_config(tmp_path / "A", tmp_path / "B", tmp_path / "runs", max_steps=80, lr=5e-4)
    cfg.data.preprocess = "none"            # whole 40x40 images, so the error is measured on what was seen
    untrained = CycleGAN(cfg, torch.device("cpu"))
    images = torch.stack([to_tensor(load_rgb(p)) for p in sorted((tmp_path / "A").iterdir())])
    before = cycle_error(untrained.G_A, untrained.G_B, images)
    run = train(cfg).run_dir
    after = cycle_error(load_generator(run, "AtoB"), load_generator(run, "BtoA"), images)
    assert after < 0.6 * before, (before, after)


def test_resume_gives_identical_weights(photo_domains, tmp_path):
    """N steps straight == N/2 steps, stop, resume, N/2 steps (crossing an epoch boundary)."""
    _, domain_A, domain_B = photo_domains
    def config(root, max_steps, resume=False):
        cfg = tiny_config(domain_A, domain_B, root, max_steps=max_steps, continue_train=resume, pool_size=2)
        cfg.data.batch_size = 2          # 12 images -> 6 steps per epoch
        cfg.model.use_dropout = True     # draws from torch's global RNG
        return cfg
    straight = train(config(tmp_path / "straight", 10)).run_dir
    train(config(tmp_path / "split", 5))
    split = train(config(tmp_path / "split", 10, resume=True)).run_dir
    a, b = weights(straight), weights(split)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert load_torch_file(split / STATE_FILE)["progress"] == {"epoch": 2, "batch": 4, "step": 10}
    steps = [r["step"] for r in read_log(split / "loss_log.jsonl")]
    assert steps == sorted(set(steps))   # no duplicated log lines after resume


def test_existing_run_is_not_overwritten(photo_domains, tmp_path):
    _, domain_A, domain_B = photo_domains
    train(tiny_config(domain_A, domain_B, tmp_path, max_steps=1))
    with pytest.raises(UserError, match="--continue_train"):
        train(tiny_config(domain_A, domain_B, tmp_path, max_steps=2))


def test_epoch_checkpoints_use_reference_names(photo_domains, tmp_path):
    _, domain_A, domain_B = photo_domains
    cfg = tiny_config(domain_A, domain_B, tmp_path, n_epochs=1, n_epochs_decay=1, save_epoch_freq=1)
    cfg.data.batch_size = 6
    run = train(cfg).run_dir
    for tag in ("latest", "1", "2"):
        for net in ("G_A", "G_B", "D_A", "D_B"):
            assert (run / f"{tag}_net_{net}.pth").is_file()
    assert json.loads((run / "config.json").read_text())["model"]["ngf"] == 8
    assert not list(run.glob("*.tmp"))


def run_cli(*args, cwd, timeout=240):
    return subprocess.run([*CLI, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})


TINY = ["--ngf", "8", "--ndf", "8", "--netG", "resnet_6blocks", "--load_size", "36", "--crop_size", "32",
        "--num_threads", "0", "--no-progress"]


def test_cli_reference_layout_and_continue_train(photo_domains, tmp_path):
    _, domain_A, domain_B = photo_domains
    ref = tmp_path / "horse2zebra"
    ref.mkdir()
    for side, src in (("A", domain_A), ("B", domain_B)):
        (ref / f"train{side}").symlink_to(src / "train")
        (ref / f"test{side}").symlink_to(src / "test")
    done = run_cli("--dataroot", str(ref), "--max-steps", "5", *TINY, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "checkpoints" / "horse2zebra" / "latest_net_G_A.pth").is_file()

    datasets = tmp_path / "datasets"
    datasets.mkdir()
    (datasets / "x").symlink_to(domain_A)
    (datasets / "y").symlink_to(domain_B)
    first = run_cli("--domainA", "x", "--domainB", "y", "--max-steps", "3", *TINY, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    again = run_cli("--domainA", "x", "--domainB", "y", "--max_steps", "5", "--resume", *TINY, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    state = load_torch_file(tmp_path / "checkpoints" / "x2y" / STATE_FILE)
    assert state["progress"]["step"] == 5


@pytest.mark.parametrize("args, message", [
    (["--domainA", "nowhere", "--domainB", "y"], "does not exist"),
    (["--domainA", "x", "--domainB", "y", "--crop_size", "300"], "--crop_size"),
    (["--domainA", "x", "--domainB", "y", "--lambda_A", "ten"], "--lambda_A"),
    (["--domainA", "x", "--domainB", "y", "--netG", "unet"], "--netG"),
    (["--domainA", "x"], "name both domains"),
    (["--dataroot", "nowhere"], "--dataroot"),
    (["--domainA", "x", "--domainB", "y", "--device", "cuda:7"], "--device"),
])
def test_cli_errors_are_one_line_with_exit_code_2(photo_domains, tmp_path, args, message):
    _, domain_A, domain_B = photo_domains
    (tmp_path / "datasets").mkdir()
    (tmp_path / "datasets" / "x").symlink_to(domain_A)
    (tmp_path / "datasets" / "y").symlink_to(domain_B)
    done = run_cli(*TINY, *args, "--max-steps", "1", cwd=tmp_path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in done.stderr


def test_ctrl_c_saves_and_resume_continues(photo_domains, tmp_path):
    _, domain_A, domain_B = photo_domains
    args = ["--domainA", str(domain_A), "--domainB", str(domain_B), "--name", "run", "--max-steps", "100000",
            "--print_freq", "1", *TINY]
    proc = subprocess.Popen([*CLI, *args], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    log = tmp_path / "checkpoints" / "run" / "loss_log.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and not (log.exists() and len(log.read_text().splitlines()) >= 3):
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted at step" in out and "Traceback" not in err
    step = load_torch_file(tmp_path / "checkpoints" / "run" / STATE_FILE)["progress"]["step"]
    assert step >= 3
    resumed = run_cli(*args[:-len(TINY)], *TINY, "--continue_train", "--max-steps", str(step + 2), cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert load_torch_file(tmp_path / "checkpoints" / "run" / STATE_FILE)["progress"]["step"] == step + 2


def test_demo_command_builds_domains_trains_and_scores(tmp_path):
    done = run_cli("--demo", "--max-steps", "3", *TINY, "--datasets-dir", str(tmp_path / "ds"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "ds" / "demo_photos" / "train").is_dir()
    assert "PSNR against the true paintings" in done.stdout
    assert len(list((tmp_path / "checkpoints" / "demo" / "test_results").glob("*.png"))) >= 4
