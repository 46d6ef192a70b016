"""The loop's events, the model registry's refusals, and the run folder's guards (one owner,
no overwrite, no NaN saved, stale temp files, SIGTERM to the whole process group)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from conftest import tiny_config
from cyclegan.models import use_model
from cyclegan import train
from cyclegan.checkpoint import atomic_torch_save, load_torch_file
from cyclegan.errors import UserError
from cyclegan.eval.rank_trace import RankTrace, weights_digest
from cyclegan.events import (CheckpointSaved, EpochEnded, EventBus, LossesLogged, Measured, RunEnded, RunStarted,
                             StepEnded)
from cyclegan.loss_log import read_log
from cyclegan.runfolder import RunFolder
from cyclegan.training import run_training
from cyclegan.training.registry import check_supported, model_entry

CLI = [sys.executable, "-m", "cyclegan.cli.train"]
TINY = ["--ngf", "8", "--ndf", "8", "--netG", "resnet_6blocks", "--load_size", "36", "--crop_size", "32",
        "--no-progress", "--display", "none", "--precision", "fp32"]
ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}


def small_domains(photo_domains, tmp_path, count=3):
    _, domain_A, domain_B = photo_domains
    for name, source in (("A", domain_A), ("B", domain_B)):
        (tmp_path / name).mkdir()
        for path in sorted((source / "train").iterdir())[:count]:
            (tmp_path / name / path.name).write_bytes(path.read_bytes())
    return tmp_path / "A", tmp_path / "B"


def test_the_loop_announces_the_moments_of_a_run_in_order(photo_domains, tmp_path):
    A, B = small_domains(photo_domains, tmp_path)
    cfg = tiny_config(A, B, tmp_path / "runs", n_epochs=1, n_epochs_decay=1, save_epoch_freq=1)
    heard = []
    events = EventBus([heard.append])
    result = run_training(cfg, events)
    kinds = [type(e).__name__ for e in heard]
    assert kinds[0] == "RunStarted" and kinds[-1] == "RunEnded"
    steps = [e for e in heard if isinstance(e, StepEnded)]
    assert [e.position.step for e in steps] == list(range(1, result.step + 1)) == list(range(1, 7))
    assert all(set(e.losses) >= {"G_A", "D_A", "cycle_A"} and e.learning_rate > 0 for e in steps)
    assert set(steps[0].images()) >= {"real_A", "fake_B", "rec_A"}        # built when asked
    assert [e.epoch for e in heard if isinstance(e, EpochEnded)] == [1, 2]
    epoch_end = next(e for e in heard if isinstance(e, EpochEnded))
    assert epoch_end.position.epoch == 2 and epoch_end.position.batch == 0 and epoch_end.position.epoch_fraction == 1.0
    saved = [e for e in heard if isinstance(e, CheckpointSaved)]
    assert {e.tag for e in saved} == {"latest", "1", "2"}
    assert all(p.is_file() for e in saved for p in e.paths)
    started = heard[0]
    assert isinstance(started, RunStarted) and set(started.networks) == {"G_A", "G_B", "D_A", "D_B"}
    assert started.total_steps == 6 and started.run_dir == result.run_dir
    assert not heard[-1].interrupted


def test_a_measurement_joins_the_loss_log_at_its_step(photo_domains, tmp_path):
    A, B = small_domains(photo_domains, tmp_path)
    cfg = tiny_config(A, B, tmp_path / "runs", max_steps=4, print_freq=100)
    events = EventBus()
    events.subscribe(lambda e: events.announce(Measured(e.position, {"KID": 0.25}, e.learning_rate))
                     if isinstance(e, StepEnded) and e.position.step == 2 else None)
    run_dir = run_training(cfg, events).run_dir
    records = read_log(RunFolder(run_dir).log_file)
    assert [r["step"] for r in records if "KID" in r] == [2] and records[0]["KID"] == 0.25
    assert "G_A" in records[0]      # the losses of steps 1-2 went into the same line


def test_the_watchers_hear_the_loss_logs_numbers_at_its_steps(photo_domains, tmp_path):
    """One loss window: every line of the loss log is announced with the same means, the one a
    measurement took the losses along with included; the dashboards plot these, never their own."""
    A, B = small_domains(photo_domains, tmp_path)          # 3 batches an epoch
    cfg = tiny_config(A, B, tmp_path / "runs", max_steps=5, print_freq=2)
    heard = []
    events = EventBus([heard.append])
    events.subscribe(lambda e: events.announce(Measured(e.position, {"KID": 0.25}, e.learning_rate))
                     if isinstance(e, StepEnded) and e.position.step == 1 else None)
    run_dir = run_training(cfg, events).run_dir
    records = read_log(RunFolder(run_dir).log_file)
    logged = [e for e in heard if isinstance(e, LossesLogged)]
    # the measurement (1), --print_freq (2, 4), the epoch's end (3), the run's end (5)
    assert [e.position.step for e in logged] == [r["step"] for r in records] == [1, 2, 3, 4, 5]
    for event, record in zip(logged, records):
        assert dict(event.means) == {name: record[name] for name in event.means} and "G_A" in event.means
        assert (event.learning_rate, event.position.epoch_fraction) == (record["lr"], record["epoch"])
        assert event.throughput > 0
    first_step = next(e for e in heard if isinstance(e, StepEnded))
    assert logged[0].means["G_A"] == pytest.approx(first_step.losses["G_A"], abs=1e-6)   # a window of one step


def test_a_rank_trace_writes_what_the_run_trained_on_and_its_weights(photo_domains, tmp_path):
    """CYCLEGAN_DEBUG_DIR's watcher, outside the loop: the A images of every batch, and one hash of
    the final weights (torchrun's tests compare them across ranks)."""
    A, B = small_domains(photo_domains, tmp_path)
    cfg = tiny_config(A, B, tmp_path / "runs", max_steps=4)
    events = EventBus()
    events.subscribe(RankTrace(tmp_path), every_rank=True)
    run_dir = run_training(cfg, events).run_dir
    seen = (tmp_path / "seen_rank0.txt").read_text().split()
    assert len(seen) == 4 * cfg.data.batch_size and {Path(p).name for p in seen} <= {p.name for p in A.iterdir()}
    saved = {name: SavedNet(load_torch_file(run_dir / f"latest_net_{name}.pth"))
             for name in ("G_A", "G_B", "D_A", "D_B")}
    assert (tmp_path / "weights_rank0.sha256").read_text() == weights_digest(saved) + "\n"


class SavedNet(torch.nn.Module):
    """A network as its file holds it: its state dict and nothing else."""
    def __init__(self, state: dict):
        super().__init__()
        self.saved = state

    def state_dict(self, *args, **kwargs):
        return dict(self.saved)


def test_another_rank_hears_only_the_subscribers_that_asked_for_every_rank():
    events = EventBus()
    report, trace = events.subscribe(lambda e: None), events.subscribe(lambda e: None, every_rank=True)
    assert events.for_rank(is_main=True) is events
    assert events.for_rank(is_main=False).subscribers == [trace] and report in events.subscribers


def test_train_attaches_the_report_and_the_registry_names_the_run(photo_domains, tmp_path):
    A, B = small_domains(photo_domains, tmp_path)
    cfg = tiny_config(A, B, tmp_path / "runs", max_steps=2, display="none")
    cfg.train.name = None
    result = train(cfg)
    assert result.run_dir.name == "A2B" and RunFolder(result.run_dir).report_page.is_file()


@pytest.mark.parametrize("option, value, refusal", [
    ("precision", "bf16", "--model dcgan does not support --precision bf16"),
    ("compile", "on", "--model dcgan does not support --compile on"),
])
def test_a_model_refuses_what_it_does_not_support(option, value, refusal):
    cfg = tiny_config("a", "b", "runs")
    use_model(cfg, "dcgan")
    setattr(cfg.train, option, value)
    with pytest.raises(UserError, match=refusal):
        check_supported(model_entry("dcgan"), cfg, distributed=False)
    with pytest.raises(UserError, match="does not support multi-process"):
        check_supported(model_entry("dcgan"), tiny_config("a", "b", "runs"), distributed=True)
    check_supported(model_entry("cyclegan"), cfg, distributed=True)   # CycleGAN supports all three


def test_dcgan_refuses_precision_on_the_command_line(photo_domains, tmp_path):
    _, domain_A, _ = photo_domains
    done = subprocess.run([*CLI, "--model", "dcgan", "--domainA", str(domain_A), "--image_size", "32", "--ngf", "8",
                           "--ndf", "8", "--precision", "bf16", "--max-steps", "1", "--no-progress"],
                          cwd=tmp_path, capture_output=True, text=True, env=ENV, timeout=120)
    assert done.returncode == 2 and done.stderr.strip().count("\n") == 0, done.stderr
    assert "does not support --precision bf16" in done.stderr and not (tmp_path / "checkpoints").exists()


def test_weights_without_a_training_state_are_never_overwritten(photo_domains, tmp_path):
    A, B = small_domains(photo_domains, tmp_path)
    run = RunFolder(tmp_path / "runs" / "tiny")
    run.path.mkdir(parents=True)
    (run.path / "latest_net_G_A.pth").write_bytes(b"someone's pretrained weights")
    for continue_train in (False, True):
        with pytest.raises(UserError, match="holds weights but no training state"):
            run_training(tiny_config(A, B, tmp_path / "runs", max_steps=1, continue_train=continue_train))
    assert (run.path / "latest_net_G_A.pth").read_bytes() == b"someone's pretrained weights"


def test_a_second_training_of_the_same_run_is_refused_while_the_first_holds_it(photo_domains, tmp_path):
    A, B = small_domains(photo_domains, tmp_path)
    run = RunFolder(tmp_path / "runs" / "tiny")
    with run.training_lock():
        done = subprocess.run([*CLI, "--domainA", str(A), "--domainB", str(B), "--checkpoints_dir",
                               str(tmp_path / "runs"), "--name", "tiny", "--max-steps", "1", "--num_threads", "0",
                               *TINY], cwd=tmp_path, capture_output=True, text=True, env=ENV, timeout=120)
        assert done.returncode == 2 and "is being trained by process" in done.stderr, done.stderr
        assert not run.has_state()
    assert run_training(tiny_config(A, B, tmp_path / "runs", max_steps=1)).step == 1   # free again


def test_a_lock_alone_leaves_no_folder_behind(tmp_path):
    run = RunFolder(tmp_path / "runs" / "never")
    with pytest.raises(RuntimeError):
        with run.training_lock():
            raise RuntimeError("the data could not be read")
    assert not run.path.exists()


def test_a_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(photo_domains, tmp_path):
    A, B = small_domains(photo_domains, tmp_path)
    run_training(tiny_config(A, B, tmp_path / "runs", max_steps=2))
    run = RunFolder(tmp_path / "runs" / "tiny")
    state = load_torch_file(run.state_file)
    weights = state["model"]["nets"]["G_A"]
    first = next(k for k in weights if k.endswith("weight"))
    weights[first] = torch.full_like(weights[first], float("nan"))   # a poisoned state, as a bad step leaves it
    atomic_torch_save(state, run.state_file)
    before = {p.name: p.read_bytes() for p in run.path.glob("*.pth")}
    with pytest.raises(UserError, match=r"step 3: loss \w+ is nan; training stopped and the last good checkpoint"):
        run_training(tiny_config(A, B, tmp_path / "runs", max_steps=4, continue_train=True))
    assert {p.name: p.read_bytes() for p in run.path.glob("*.pth")} == before


def test_temp_files_a_kill_left_behind_are_removed_when_the_run_resumes(photo_domains, tmp_path):
    A, B = small_domains(photo_domains, tmp_path)
    run_training(tiny_config(A, B, tmp_path / "runs", max_steps=1))
    run = RunFolder(tmp_path / "runs" / "tiny")
    stale = run.path / ".latest_state.pth.k1ll3d.tmp"
    stale.write_bytes(b"half a checkpoint")
    run_training(tiny_config(A, B, tmp_path / "runs", max_steps=2, continue_train=True))
    assert not stale.exists() and not list(run.path.glob(".*.tmp"))


def test_a_torn_last_log_line_is_skipped_by_readers(tmp_path):
    log = tmp_path / "loss_log.jsonl"
    log.write_text('{"step": 1, "G_A": 0.5}\n{"step": 2, "G_A": 0.4}\n{"step": 3, "G_')
    assert [r["step"] for r in read_log(log)] == [1, 2]


def test_sigterm_to_the_process_group_saves_and_exits_130(photo_domains, tmp_path):
    """How `timeout`, systemd and Slurm stop a job: every process of the group gets SIGTERM,
    data-loading workers included. The run saves its state and exits 130, without a traceback."""
    _, domain_A, domain_B = photo_domains
    runs = tmp_path / "runs"
    proc = subprocess.Popen([*CLI, "--domainA", str(domain_A), "--domainB", str(domain_B), "--checkpoints_dir",
                             str(runs), "--name", "term", "--max-steps", "100000", "--print_freq", "1",
                             "--num_threads", "2", *TINY],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
                            start_new_session=True)
    log = runs / "term" / "loss_log.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and not (log.exists() and len(log.read_text().splitlines()) >= 3):
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "interrupted at step" in out
    assert load_torch_file(runs / "term" / "latest_state.pth")["progress"]["step"] >= 3


def test_the_memory_estimate_grows_with_the_square_of_the_size_and_names_a_size_that_fits():
    from cyclegan.config import Config
    from cyclegan.training.cyclegan_step import CycleGAN
    from cyclegan.training.memory import check_step_fits, step_bytes
    cfg = Config()
    cfg.model.ngf = cfg.model.ndf = 8
    model = CycleGAN(cfg, torch.device("cpu"))
    passes = model_entry("cyclegan").activation_passes
    small, large = (step_bytes(model.nets, passes, 3, size, 1) for size in (64, 128))
    params = 16 * sum(p.numel() for net in model.nets.values() for p in net.parameters())
    assert (large - params) == pytest.approx(4 * (small - params), rel=0.05)
    assert check_step_fits(model.nets, passes, 3, 64, 1, torch.device("cpu"), available=large) == small
    with pytest.raises(UserError, match=r"--crop_size 512 with --batch_size 2 needs about .* GiB .* "
                                        r"--crop_size \d+ fits, or lower --batch_size"):
        check_step_fits(model.nets, passes, 3, 512, 2, torch.device("cpu"), available=large)


def test_a_crop_too_large_for_this_machine_is_refused_before_training(photo_domains, tmp_path):
    A, B = small_domains(photo_domains, tmp_path)
    done = subprocess.run([*CLI, "--domainA", str(A), "--domainB", str(B), "--checkpoints_dir", str(tmp_path / "runs"),
                           "--load_size", "8000", "--crop_size", "8000", "--max-steps", "1", "--num_threads", "0",
                           "--no-progress", "--display", "none"],
                          cwd=tmp_path, capture_output=True, text=True, env=ENV, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "--crop_size 8000 with --batch_size 1 needs about" in done.stderr and "fits" in done.stderr
    assert done.stderr.strip().count("\n") == 0 and not (tmp_path / "runs").exists()
