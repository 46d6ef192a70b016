"""Which model a run trains, by name: the loop works the same way for all of them.

A model offers ``nets`` (name -> module, saved as ``<tag>_net_<name>.pth``), ``optimizers``,
``set_learning_rate(lr)``, ``train_batch(batch) -> {loss name: float}``,
``current_visuals() -> {name: image batch in [-1, 1]}``, ``state_dict()`` and ``load_state_dict()``.
"""
from __future__ import annotations

import torch
from torch.utils.data import Dataset

from ..config import Config
from ..errors import UserError

MODELS = ("cyclegan", "dcgan")


def canonical_model_name(name: str) -> str:
    name = {"cycle_gan": "cyclegan"}.get(name, name)
    if name not in MODELS:
        raise UserError(f"--model {name}: choose one of {', '.join(MODELS)}")
    return name


def build_model(cfg: Config, device: torch.device, rank: int = 0):
    """``rank`` (multi-process training) gives each process its own history-pool randomness."""
    if canonical_model_name(cfg.model.model) == "dcgan":
        from .dcgan_step import DCGAN
        return DCGAN(cfg, device)
    from .cyclegan_step import CycleGAN
    return CycleGAN(cfg, device, rank=rank)


def build_dataset(cfg: Config) -> Dataset:
    """The training set: unaligned A/B pairs for CycleGAN, domain A alone for DCGAN."""
    if canonical_model_name(cfg.model.model) == "dcgan":
        from ..data.single import load_single_domain
        return load_single_domain(cfg)
    from ..data import load_training_data
    return load_training_data(cfg.data).dataset
