"""Multi-process training through torchrun: 2 CPU processes on gloo, tiny networks."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from cyclegan.checkpoint import load_torch_file
from cyclegan.runfolder import STATE_FILE
from cyclegan.data.images import list_images
from cyclegan.loss_log import read_log
from cyclegan.inference.generators import load_generator

pytestmark = pytest.mark.skipif(not torch.distributed.is_available(), reason="torch built without distributed")


def torchrun(args: list[str], debug_dir: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "CYCLEGAN_DEBUG_DIR": str(debug_dir), "OMP_NUM_THREADS": "1"}
    debug_dir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               "-m", "cyclegan.cli.train", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)


def tiny_args(domain_A, domain_B, runs: Path, *extra: str) -> list[str]:
    return ["--domainA", str(domain_A), "--domainB", str(domain_B), "--checkpoints_dir", str(runs),
            "--name", "ddp", "--ngf", "8", "--ndf", "8", "--netG", "resnet_6blocks", "--load_size", "36",
            "--crop_size", "32", "--num_threads", "0", "--no-progress", "--print_freq", "1",
            "--n_epochs", "1", "--n_epochs_decay", "1", *extra]


@pytest.fixture(scope="module")
def two_process_run(photo_domains, tmp_path_factory):
    _, domain_A, domain_B = photo_domains
    root = tmp_path_factory.mktemp("ddp")
    runs = root / "runs"
    # |A| = 12 images over 2 ranks at batch 2: 3 steps per epoch; 6 steps = both epochs.
    first = torchrun(tiny_args(domain_A, domain_B, runs, "--batch_size", "2", "--max-steps", "4"), root / "debug1")
    assert first.returncode == 0, first.stderr[-3000:]
    return domain_A, domain_B, runs, root, first


def test_two_processes_train_with_identical_weights_on_both_ranks(two_process_run):
    _, _, runs, root, _ = two_process_run
    hashes = [(root / "debug1" / f"weights_rank{r}.sha256").read_text() for r in (0, 1)]
    assert hashes[0] == hashes[1]
    state = load_torch_file(runs / "ddp" / STATE_FILE)
    assert state["progress"]["step"] == 4 and state["world_size"] == 2 and len(state["ranks"]) == 2
    # Each rank kept its own history pool.
    assert not all(torch.equal(a, b) for a, b in zip(state["ranks"][0]["pools"]["fake_A"]["images"],
                                                    state["ranks"][1]["pools"]["fake_A"]["images"]))


def test_an_epoch_shards_domain_A_across_ranks_without_duplicates(two_process_run):
    domain_A, _, _, root, _ = two_process_run
    seen = [(root / "debug1" / f"seen_rank{r}.txt").read_text().split() for r in (0, 1)]
    n_A = len(list_images(domain_A / "train"))
    first_epoch = seen[0][:n_A // 2] + seen[1][:n_A // 2]  # 3 batches of 2 per rank
    assert sorted(first_epoch) == sorted(str(p) for p in list_images(domain_A / "train"))
    assert set(seen[0][:n_A // 2]).isdisjoint(seen[1][:n_A // 2])


def test_the_checkpoint_loads_in_one_process_with_single_process_keys(two_process_run):
    _, _, runs, _, _ = two_process_run
    raw = torch.load(runs / "ddp" / "latest_net_G_A.pth", weights_only=True)
    assert not any(k.startswith("module.") for k in raw)
    generator = load_generator(runs / "ddp", "AtoB")
    with torch.no_grad():
        assert generator(torch.zeros(1, 3, 32, 32)).shape == (1, 3, 32, 32)
    log = read_log(runs / "ddp" / "loss_log.jsonl")
    assert [line["step"] for line in log if "G_A" in line][:4] == [1, 2, 3, 4]  # rank 0 alone writes


def test_resume_under_two_processes_continues_from_the_saved_step(two_process_run):
    domain_A, domain_B, runs, root, _ = two_process_run
    again = torchrun(tiny_args(domain_A, domain_B, runs, "--batch_size", "2", "--max-steps", "6",
                               "--continue_train"), root / "debug2")
    assert again.returncode == 0, again.stderr[-3000:]
    assert load_torch_file(runs / "ddp" / STATE_FILE)["progress"]["step"] == 6
    hashes = [(root / "debug2" / f"weights_rank{r}.sha256").read_text() for r in (0, 1)]
    assert hashes[0] == hashes[1]
    seen = (root / "debug2" / "seen_rank0.txt").read_text().split()
    assert len(seen) == 4  # steps 5 and 6 only, batch 2


def test_a_failing_rank_stops_the_job_with_a_clear_message(photo_domains, tmp_path):
    _, domain_A, domain_B = photo_domains
    run = torchrun(tiny_args(domain_A, tmp_path / "missing", tmp_path / "runs", "--max-steps", "2"),
                   tmp_path / "debug", timeout=120)
    assert run.returncode != 0
    assert "--domainB" in run.stderr  # the one-line cause, not a hang
