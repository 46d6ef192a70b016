import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from cyclegan.checkpoint import atomic_torch_save, load_torch_file
from cyclegan.errors import UserError


class Unpicklable:
    def __reduce__(self):
        raise RuntimeError("disk full (simulated)")


def test_failed_write_keeps_the_previous_checkpoint(tmp_path):
    path = tmp_path / "latest_state.pth"
    atomic_torch_save({"step": 1, "w": torch.ones(3)}, path)
    with pytest.raises(RuntimeError, match="disk full"):
        atomic_torch_save({"step": 2, "w": torch.zeros(1000), "bad": Unpicklable()}, path)
    assert load_torch_file(path)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["latest_state.pth"]  # no temp file left behind


WRITER = """
import sys, torch
from cyclegan.checkpoint import atomic_torch_save
torch.manual_seed(0)
big = torch.randn(4_000_000)
step = 0
while True:
    step += 1
    atomic_torch_save({"step": step, "w": big + step}, sys.argv[1])
    print(step, flush=True)
"""


def test_killed_writer_never_leaves_a_torn_checkpoint(tmp_path):
    """kill -9 a process in the middle of its saves: the file always loads and is self-consistent."""
    path = tmp_path / "latest_state.pth"
    env = {**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(__file__))}
    torch.manual_seed(0)
    base = torch.randn(4_000_000)
    for delay in (0.05, 0.13, 0.31):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, env=env, text=True)
        proc.stdout.readline()                       # at least one complete save
        time.sleep(delay)                            # then kill at some point of a later write
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        state = load_torch_file(path)
        assert state["step"] >= 1 and torch.equal(state["w"], base + state["step"])  # one whole save
        leftovers = [p for p in tmp_path.iterdir() if p.name != path.name]
        for p in leftovers:  # a killed writer may leave its temp file, never in place of the real one
            assert p.name.endswith(".tmp")


def test_truncated_file_is_a_clear_error(tmp_path):
    path = tmp_path / "latest_net_G_A.pth"
    atomic_torch_save({"w": torch.ones(1000)}, path)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(UserError, match="truncated"):
        load_torch_file(path)
