"""Shared fixtures: tiny settings and small real-photo domains built once per session."""
from __future__ import annotations

import pytest
import torch

from cyclegan.config import Config
from cyclegan.data.demo import build_demo_domains

torch.set_num_threads(2)


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
    for key, value in train_overrides.items():
        setattr(cfg.train, key, value)
    return cfg
