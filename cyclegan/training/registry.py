"""How each model trains: model name -> (its training class, its dataset builder).

What a model *is* (networks, directions, supports, options, defaults, run name) is its card in
``cyclegan.models``. To add a model: write its class (the ``TrainableModel`` contract below), its
card, and ``register(card, build, dataset)``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Protocol

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from ..config import Config
from ..data import load_training_data
from ..data.single import load_single_domain
from ..errors import UserError
from ..models import (CARDS, CUT_MODES, ModelCard, Supports, add_card, check_supported,  # noqa: F401
                      model_card, model_names, resolve_model, with_model_defaults)
from .cut_step import CUT
from .cyclegan_step import CycleGAN
from .dcgan_step import DCGAN


class TrainableModel(Protocol):
    """What the loop needs of a model; every registered model offers all of it."""
    nets: dict[str, nn.Module]           # name -> network, saved as <tag>_net_<name>.pth

    def set_learning_rate(self, lr: float) -> None: ...
    def train_batch(self, batch: dict[str, Tensor]) -> dict[str, float]: ...   # one step -> losses
    def current_visuals(self) -> dict[str, Tensor]: ...       # the last step's images, in [-1, 1]
    def samplers(self) -> dict[str, Callable[[], Tensor]]: ...  # extra images for watchers
    def state_dict(self) -> dict: ...                         # everything to resume exactly
    def load_state_dict(self, state: dict) -> None: ...
    def rank_state(self) -> Any: ...                          # what differs per DDP rank (pools)
    def load_rank_state(self, state: Any) -> None: ...


@dataclass(frozen=True)
class ModelEntry:
    """A model's card (what it is: ``cyclegan.models``) with how to build and feed it."""
    card: ModelCard
    build: Callable[[Config, torch.device, int], TrainableModel]   # (cfg, device, rank)
    dataset: Callable[[Config], Dataset]

    def __getattr__(self, name: str):   # name, supports, directions, run_name, ...: the card's
        return getattr(self.card, name)


def _translation_pairs(cfg: Config) -> Dataset:
    return load_training_data(cfg.data).dataset


# model name -> (training class, dataset builder); what each model is, its card says
BUILDERS: dict[str, tuple[Callable[[Config, torch.device, int], TrainableModel], Callable[[Config], Dataset]]] = {
    "cyclegan": (lambda cfg, device, rank: CycleGAN(cfg, device, rank=rank), _translation_pairs),
    "cut": (lambda cfg, device, rank: CUT(cfg, device, rank=rank), _translation_pairs),
    "fastcut": (lambda cfg, device, rank: CUT(cfg, device, rank=rank), _translation_pairs),
    "dcgan": (lambda cfg, device, rank: DCGAN(cfg, device), load_single_domain),
}


def model_entry(name: str) -> ModelEntry:
    card = model_card(name)
    if card.name not in BUILDERS:
        raise UserError(f"--model {name}: this version has its card but cannot train it")
    build, dataset = BUILDERS[card.name]
    return ModelEntry(card, build, dataset)


def register(card: ModelCard, build: Callable[[Config, torch.device, int], TrainableModel],
             dataset: Callable[[Config], Dataset] = _translation_pairs) -> ModelEntry:
    """Add a model: its card (what it is) and its builders (how it trains), nothing else."""
    add_card(card)
    BUILDERS[card.name] = (build, dataset)
    return model_entry(card.name)
