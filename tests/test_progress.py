"""Progress off a terminal: plain status lines at an interval, never carriage-return redraws."""
import io
import os
import subprocess
import sys
import time
from pathlib import Path

from cyclegan.progress import LogLines, progress_bar

ROOT = Path(__file__).resolve().parents[1]


def test_a_bar_written_to_a_file_is_a_few_plain_lines_with_count_eta_and_postfix():
    out = io.StringIO()   # not a terminal
    bar = progress_bar(total=40, desc="run", unit="step", file=out, interval=0.2)
    assert isinstance(bar, LogLines)
    for step in range(40):
        time.sleep(0.02)
        bar.update(1)
        bar.set_postfix(G_A=step / 10)
    bar.close()
    text = out.getvalue()
    lines = text.splitlines()
    assert "\r" not in text and "\x1b" not in text
    assert 3 <= len(lines) <= 8, lines             # 0.8 s at one line per 0.2 s, plus the first and the last
    assert lines[0].startswith("run: 0/40 (0%)")
    assert lines[-1].startswith("run: 40/40 (100%)") and "G_A=3.9" in lines[-1]
    assert "<" in lines[len(lines) // 2]          # elapsed<remaining: the ETA


def test_a_short_transient_bar_leaves_nothing_in_a_log_and_writes_go_through():
    out = io.StringIO()
    for _ in progress_bar(range(3), desc="tiles", leave=False, file=out, interval=30):
        pass
    bar = progress_bar(total=2, desc="run", file=out, interval=30)
    bar.write("a message", file=out)
    bar.update(2)
    bar.close()
    assert out.getvalue().splitlines() == ["run: 0/2 (0%) [00:00<?, ?it/s]", "a message",
                                           out.getvalue().splitlines()[-1]]
    assert out.getvalue().splitlines()[-1].startswith("run: 2/2 (100%)")


def test_training_with_its_output_sent_to_a_file_logs_lines_not_redraws(photo_domains, tmp_path):
    _, domain_A, domain_B = photo_domains
    log = tmp_path / "train.log"
    with open(log, "w") as sink:
        done = subprocess.run([sys.executable, "-m", "cyclegan.cli.train", "--domainA", str(domain_A), "--domainB",
                               str(domain_B), "--max-steps", "40", "--ngf", "8", "--ndf", "8", "--netG",
                               "resnet_6blocks", "--load_size", "36", "--crop_size", "32", "--precision", "fp32",
                               "--print_freq", "20", "--checkpoints_dir", str(tmp_path / "runs")],
                              stdout=sink, stderr=subprocess.STDOUT, timeout=300, cwd=tmp_path,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    text = log.read_text()
    assert done.returncode == 0, text
    assert "\r" not in text
    assert len(text.splitlines()) <= 40, text
    assert "40/40 (100%)" in text            # the bar's last state
    assert "worker processes in total" not in text   # PyTorch's warning about too many loader workers


def test_the_worker_default_follows_the_cores_this_process_may_use():
    def workers_with(cores: set[int]) -> int:
        code = "from cyclegan.config import Config; print(Config().data.num_threads)"
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                              preexec_fn=lambda: os.sched_setaffinity(0, cores), env={**os.environ, "PYTHONPATH": str(ROOT)})
        return int(done.stdout)
    available = sorted(os.sched_getaffinity(0))
    assert workers_with({available[0]}) == 0          # one core: load in the main process
    if len(available) >= 2:
        assert workers_with(set(available[:2])) == 1  # leave a core to training
