"""A full disk, a folder that refuses files, and signals: one line each, and nothing lost.

A full disk is simulated with RLIMIT_FSIZE in the child process: a write past the limit fails
with EFBIG ("File too large") as a write to a full disk fails with ENOSPC, provided the child
ignores SIGXFSZ (which would otherwise kill it). The tests run as root, which ignores folder
permissions, so a folder that refuses files is a path under a regular file (ENOTDIR).
"""
from __future__ import annotations

import errno
import os
import resource
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from cyclegan import checkpoint
from cyclegan.checkpoint import atomic_torch_save, load_torch_file
from cyclegan.errors import UserError, WriteFailed, writing

ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
TINY = ["--ngf", "8", "--ndf", "8", "--netG", "resnet_6blocks", "--load_size", "36", "--crop_size", "32",
        "--display", "none", "--precision", "fp32"]
TINY_DCGAN = ["--model", "dcgan", "--image_size", "32", "--ngf", "8", "--ndf", "8", "--nz", "16", "--display", "none"]


def command(module: str, *args) -> list[str]:
    return [sys.executable, "-m", f"cyclegan.cli.{module}", *args]


def run_with_file_limit(argv: list[str], limit: int, cwd: Path) -> subprocess.CompletedProcess:
    """Run ``argv`` where no file may grow past ``limit`` bytes: a full disk, as the program sees it."""
    def limited():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # fail the write with EFBIG instead of dying
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return subprocess.run(argv, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=300, preexec_fn=limited)


def one_error_line(done: subprocess.CompletedProcess, prog: str) -> str:
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith(f"{prog}: error:")]
    assert len(errors) == 1, done.stderr
    return errors[0]


def temp_files(folder: Path) -> list[Path]:
    return list(folder.rglob(".*.tmp"))


def run_args(photo_domains, name: str) -> list[str]:
    """The options of the fixture's runs, "cyc" (CycleGAN) and "dc" (DCGAN); a resume repeats them."""
    _, domain_A, domain_B = photo_domains
    if name == "dc":
        return ["--domainA", str(domain_A), "--name", "dc", *TINY_DCGAN]
    return ["--domainA", str(domain_A), "--domainB", str(domain_B), "--name", name, *TINY]


@pytest.fixture(scope="module")
def runs(photo_domains, tmp_path_factory):
    """A tiny CycleGAN run and a tiny DCGAN run, 2 steps each, trained without a limit."""
    root = tmp_path_factory.mktemp("runs")
    for name in ("cyc", "dc"):
        done = subprocess.run(command("train", *run_args(photo_domains, name), "--checkpoints_dir", str(root),
                                      "--max-steps", "2", "--num_threads", "0", "--no-progress"),
                              cwd=root, env=ENV, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
    return root


# --- a full disk while training -------------------------------------------------------------

def test_a_full_disk_in_a_new_run_is_one_line_and_leaves_no_temp_file(photo_domains, tmp_path):
    _, domain_A, domain_B = photo_domains
    done = run_with_file_limit(command("train", "--domainA", str(domain_A), "--domainB", str(domain_B),
                                       "--name", "new", "--checkpoints_dir", "runs", "--max-steps", "2",
                                       "--num_threads", "0", "--no-progress", *TINY), 50_000, tmp_path)
    line = one_error_line(done, "cyclegan-train")
    assert "disk full while writing runs/new/latest_state.pth" in line and "free some space" in line
    assert "nothing was saved yet" in line
    assert not temp_files(tmp_path / "runs")
    # The state is written before the weights, so no weights-without-state blocks the next try.
    assert not list((tmp_path / "runs" / "new").glob("*.pth"))


@pytest.mark.parametrize("name, limit", [("cyc", 1_000_000), ("dc", 200_000)], ids=["cyclegan", "dcgan"])
def test_a_full_disk_while_resuming_keeps_the_previous_checkpoint(runs, photo_domains, tmp_path, name, limit):
    """The state grows past the limit at the first save of the resumed run: that save fails, the
    state of step 2 stays whole and loads, and the line says how to go on."""
    before = (runs / name / "latest_state.pth").read_bytes()
    args = [*run_args(photo_domains, name), "--checkpoints_dir", str(runs), "--continue_train", "--max-steps", "4",
            "--num_threads", "0", "--no-progress"]
    done = run_with_file_limit(command("train", *args), limit, tmp_path)
    line = one_error_line(done, "cyclegan-train")
    assert "disk full while writing" in line and "resume with --continue_train" in line
    assert (runs / name / "latest_state.pth").read_bytes() == before
    assert load_torch_file(runs / name / "latest_state.pth")["progress"]["step"] == 2
    assert not temp_files(runs / name)


# --- a full disk, or a folder that refuses files, in the other tools ------------------------

def test_export_on_a_full_disk(runs, tmp_path):
    done = run_with_file_limit(command("export", "--checkpoint", str(runs / "cyc"), "--output", "out",
                                       "--format", "torchscript", "--skip_check"), 2_000, tmp_path)
    line = one_error_line(done, "cyclegan-export")
    assert "disk full while writing out/generator_AtoB.pt (File too large): free some space" in line
    assert not [p for p in (tmp_path / "out").iterdir()]   # no partial file, no temp file


def test_report_on_a_full_disk(runs, tmp_path):
    done = run_with_file_limit(command("report", str(runs / "cyc"), "--no-mp4"), 2_000, tmp_path)
    line = one_error_line(done, "cyclegan-report")
    assert "disk full while writing" in line and str(runs / "cyc" / "web") in line
    assert not temp_files(runs / "cyc")


def test_sample_on_a_full_disk(runs, tmp_path):
    done = run_with_file_limit(command("sample", "--checkpoint", str(runs / "dc"), "--output", "out", "-n", "2",
                                       "--grid"), 1_000, tmp_path)
    line = one_error_line(done, "cyclegan-sample")
    assert "disk full while writing out/grid.png" in line
    assert not [p for p in (tmp_path / "out").iterdir()]


def test_eval_save_translations_on_a_full_disk(runs, tmp_path):
    done = run_with_file_limit(command("eval", "--checkpoint", str(runs / "cyc"), "--features", "random",
                                       "--save-translations", "out", "--max-images", "2", "--kid-subsets", "2",
                                       "--no-progress"), 1_000, tmp_path)
    line = one_error_line(done, "cyclegan-eval")
    assert "disk full while writing out/AtoB/" in line
    assert not [p for p in (tmp_path / "out" / "AtoB").iterdir()]   # no torn PNG left behind


def test_translate_on_a_full_disk_stops_at_the_first_file(runs, photo_domains, tmp_path):
    _, domain_A, _ = photo_domains
    done = run_with_file_limit(command("translate", str(domain_A / "test"), "--checkpoint", str(runs / "cyc"),
                                       "-o", "out", "--device", "cpu"), 1_000, tmp_path)
    line = one_error_line(done, "cyclegan-translate")   # not one "skipped" line per remaining file
    assert "disk full while writing out/" in line and "--overwrite" in line
    assert "skipped" not in done.stderr
    assert not [p for p in (tmp_path / "out").iterdir() if p.suffix == ".png" or p.name.endswith(".tmp")]


@pytest.mark.parametrize("tool", ["sample", "eval"])
def test_an_output_folder_under_a_file_is_one_line(runs, tmp_path, tool):
    """What a read-only folder gets, tested as root can be refused: a path under a regular file."""
    (tmp_path / "afile").write_text("not a folder")
    args = {"sample": ["--checkpoint", str(runs / "dc"), "--output", "afile/sub", "-n", "2"],
            "eval": ["--checkpoint", str(runs / "cyc"), "--features", "random", "--save-translations", "afile/sub",
                     "--max-images", "2", "--kid-subsets", "2", "--no-progress"]}[tool]
    done = subprocess.run(command(tool, *args), cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=300)
    line = one_error_line(done, f"cyclegan-{tool}")
    assert "cannot write to afile/sub" in line and "(Not a directory)" in line


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders; the ENOTDIR test covers it")
def test_a_read_only_output_folder_is_one_line(runs, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        done = subprocess.run(command("sample", "--checkpoint", str(runs / "dc"), "--output", "locked/out", "-n", "2"),
                              cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=300)
    finally:
        locked.chmod(0o700)
    assert "cannot write to locked/out (Permission denied)" in one_error_line(done, "cyclegan-sample")


# --- the words, and the checkpoint writer ---------------------------------------------------

@pytest.mark.parametrize("cause, words", [
    (OSError(errno.ENOSPC, "No space left on device"), "disk full while writing out/x.pth (No space left on device): "
                                                       "free some space and run the command again"),
    (OSError(errno.EDQUOT, "Disk quota exceeded"), "disk full while writing out/x.pth (Disk quota exceeded)"),
    (OSError(errno.EROFS, "Read-only file system", "out"), "cannot write to out (Read-only file system): "
                                                           "choose another folder or fix its permissions"),
    (RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 982976 vs 982864"),
     "disk full while writing out/x.pth: free some space"),
])
def test_a_failed_write_becomes_one_line_naming_the_file(cause, words):
    with pytest.raises(WriteFailed) as raised, writing(Path("out/x.pth")):
        raise cause
    assert str(raised.value) == words or str(raised.value).startswith(words)
    assert isinstance(raised.value, UserError) and isinstance(raised.value, OSError)   # translate skips OSErrors
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize("other", [OSError(errno.ENOENT, "No such file or directory"), RuntimeError("shape mismatch"),
                                   ValueError("bad")])
def test_other_errors_pass_through_unchanged(other):
    with pytest.raises(type(other)) as raised, writing(Path("out/x.pth")):
        raise other
    assert raised.value is other


class CtrlCOnThirdWrite:
    """The temp file of a save, hit by Ctrl-C at its third write (torch.save writes a record at a time)."""

    def __init__(self, file):
        self.file, self.writes = file, 0

    def write(self, data):
        self.writes += 1
        if self.writes == 3:
            raise KeyboardInterrupt
        return self.file.write(data)

    def __getattr__(self, name):
        return getattr(self.file, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.file.close()


def test_an_interrupt_inside_torch_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    """torch's zip writer turns an exception raised in its write (a Ctrl-C landing there) into
    "RuntimeError: unexpected pos"; the save gives back the KeyboardInterrupt (not a "disk full"),
    and removes its temp file."""
    path = tmp_path / "latest_state.pth"
    atomic_torch_save({"step": 1}, path)
    real_fdopen = os.fdopen
    monkeypatch.setattr(checkpoint.os, "fdopen", lambda fd, mode: CtrlCOnThirdWrite(real_fdopen(fd, mode)))
    with pytest.raises(KeyboardInterrupt):
        atomic_torch_save({"step": 2, "weights": [torch.ones(1000) * i for i in range(5)]}, path)
    monkeypatch.undo()
    assert load_torch_file(path) == {"step": 1}
    assert not temp_files(tmp_path)


# --- signals ------------------------------------------------------------------------------

def start_training(photo_domains, tmp_path, *extra, **popen) -> tuple[subprocess.Popen, Path]:
    _, domain_A, domain_B = photo_domains
    runs = tmp_path / "runs"
    popen = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True, **popen}
    proc = subprocess.Popen(command("train", "--domainA", str(domain_A), "--domainB", str(domain_B), "--name", "sig",
                                    "--checkpoints_dir", str(runs), "--max-steps", "100000", "--print_freq", "1",
                                    "--num_threads", "1", *TINY, *extra),
                            cwd=tmp_path, env=ENV, start_new_session=True, **popen)
    return proc, runs / "sig"


def wait_for_steps(run: Path, steps: int, proc: subprocess.Popen) -> None:
    log = run / "loss_log.jsonl"
    deadline = time.time() + 180
    while time.time() < deadline and proc.poll() is None:
        if log.exists() and len(log.read_text().splitlines()) >= steps:
            return
        time.sleep(0.05)
    raise AssertionError(f"training did not log {steps} steps (exit code {proc.poll()})")


def test_two_ctrl_c_50_ms_apart_stop_at_once_with_a_whole_checkpoint(photo_domains, tmp_path):
    """A state is saved at every step (--save_latest_freq 1), so the second Ctrl-C often lands in
    a save: the run stops within seconds, in one line, and the state on disk is a whole one."""
    proc, run = start_training(photo_domains, tmp_path, "--save_latest_freq", "1", "--no-progress")
    wait_for_steps(run, 3, proc)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise AssertionError("still running 20 s after the second Ctrl-C")
    assert proc.returncode == 130, err
    assert "Traceback" not in err, err
    assert "stopped at once" in err or "interrupted at step" in out, (out, err)   # or the save won the race
    assert load_torch_file(run / "latest_state.pth")["progress"]["step"] >= 2
    for path in run.glob("latest_net_*.pth"):
        load_torch_file(path)


def test_sighup_saves_and_exits_like_sigterm(photo_domains, tmp_path):
    """An ssh session or a terminal that closes hangs up the whole process group, loader workers
    included: the run saves its state and exits 130."""
    proc, run = start_training(photo_domains, tmp_path, "--no-progress")
    wait_for_steps(run, 3, proc)
    os.killpg(proc.pid, signal.SIGHUP)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "interrupted at step" in out
    assert load_torch_file(run / "latest_state.pth")["progress"]["step"] >= 3


def read_terminal(fd: int, reading: threading.Event) -> None:
    """What a terminal does with the output (else the child blocks once the pty's buffer is full)."""
    while reading.is_set():
        if select.select([fd], [], [], 0.05)[0]:
            try:
                os.read(fd, 65536)
            except OSError:
                return


def test_a_closed_terminal_still_saves(photo_domains, tmp_path):
    """After the terminal is gone every write to it fails (EIO), the progress bar's too: the run
    still saves and exits 130."""
    master, slave = os.openpty()
    proc, run = start_training(photo_domains, tmp_path, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave)
    os.close(slave)
    reading = threading.Event()
    reading.set()
    reader = threading.Thread(target=read_terminal, args=(master, reading))
    reader.start()
    try:
        wait_for_steps(run, 3, proc)
    finally:
        reading.clear()
        reader.join()
        os.close(master)   # the terminal closes: writes to it now fail
    os.killpg(proc.pid, signal.SIGHUP)
    assert proc.wait(timeout=60) == 130
    assert load_torch_file(run / "latest_state.pth")["progress"]["step"] >= 3
