"""Shared fixtures: tiny settings and small real-photo domains built once per session."""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
import torch

from cyclegan.config import Config
from cyclegan.data.demo import build_demo_domains

torch.set_num_threads(2)


def _live_children() -> list[str]:
    """This process's child processes (zombies included: nobody waited for them), as 'pid cmdline'."""
    me, found = str(os.getpid()), []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if fields[1] == me:   # fields: state, ppid, ...
                cmdline = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                found.append(f"{stat.parent.name} [{fields[0]}] {cmdline.strip()[:120]}")
        except (OSError, IndexError):
            continue   # the process ended while we looked
    return found


def _live_threads() -> list[str]:
    # tqdm's monitor thread is shared by every bar and ends with the interpreter; it is not ours to stop
    return [t.name for t in threading.enumerate()
            if t is not threading.main_thread() and t.is_alive() and type(t).__name__ != "TMonitor"]


@pytest.fixture(scope="session", autouse=True)
def nothing_left_behind():
    """After the last test: no process, thread or server that a test started is still running.

    A few seconds' grace, since a process that was told to stop may still be on its way out.
    """
    before = set(_live_threads())
    yield
    deadline = time.monotonic() + 15
    while True:
        children = _live_children() if Path("/proc/self").is_dir() else []
        threads = [name for name in _live_threads() if name not in before]
        if not (children or threads) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert not children, f"tests left these processes running: {children}"
    assert not threads, f"tests left these threads running: {threads}"


@pytest.fixture(scope="session")
def photo_domains(tmp_path_factory):
    """Two small domains of real photo crops (A) and their painterly counterparts (B)."""
    root = tmp_path_factory.mktemp("datasets")
    domain_A, domain_B = build_demo_domains(root, crop_size=40, n_train=12, n_test=4)
    return root, domain_A, domain_B


def tiny_config(domain_A, domain_B, run_root, **train_overrides) -> Config:
    """ngf/ndf 8, 32x32 crops, no workers: the size every unit test trains at."""
    cfg = Config()
    cfg.model.ngf = cfg.model.ndf = 8
    cfg.model.netG = "resnet_6blocks"
    cfg.data.domainA, cfg.data.domainB = str(domain_A), str(domain_B)
    cfg.data.load_size, cfg.data.crop_size = 36, 32
    cfg.data.num_threads = 0
    cfg.train.checkpoints_dir = str(run_root)
    cfg.train.name = "tiny"
    cfg.train.print_freq = 1
    cfg.train.progress = False
    cfg.train.precision = "fp32"   # "auto" is bf16 on AMX CPUs: tests learn the same on every machine
    set_options(cfg, **train_overrides)
    return cfg


def set_options(cfg: Config, **values) -> Config:
    """Set each value where it lives: the model's options (``lambda_identity``) or the training
    section (``max_steps``); a name neither has is a mistake in the test, not a silent no-op."""
    for key, value in values.items():
        section = next((s for s in (cfg.model, cfg.train) if hasattr(s, key)), None)
        if section is None:
            raise AttributeError(f"neither {type(cfg.model).__name__} nor TrainConfig has {key!r}")
        setattr(section, key, value)
    return cfg
