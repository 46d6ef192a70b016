"""Every setting of a run, in one place, as plain dataclasses.

The CLI builds a ``Config`` from its flags; a notebook builds one directly:

    from cyclegan import Config, train
    cfg = Config()
    cfg.train.max_steps = 100
    cfg.data.domainA, cfg.data.domainB = "forest", "abstract"
    train(cfg)

``cfg.model`` is the chosen model's options dataclass (``cyclegan.models``: ``CycleGANOptions``,
``CUTOptions``, ``DCGANOptions``); ``use_model(cfg, "cut")`` switches it. Field names follow the
reference implementation's option names (``lambda_A``, ``netG``, ``n_epochs_decay``) so that users
and saved configs speak one language.
"""
from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .models import (CARDS, DEFAULT_MODEL, CycleGANOptions, ModelOptions, find_card,
                     option_fields, options_for)


# The chosen model's options: a dataclass from its card (cyclegan/models/), e.g. CycleGANOptions.
# ``ModelConfig`` is the default model's, the name earlier versions used for the model section.
ModelConfig = CycleGANOptions


def default_workers() -> int:
    """Data-loading workers for this machine: min(4, cores - 1), so one core is left to training; 0 on one core.

    The reference's 4 makes PyTorch warn on every run on a 2-core machine (more workers than it suggests).
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(0, min(4, cores - 1))


@dataclass(slots=True)
class DataConfig:
    domainA: str | None = None
    domainB: str | None = None
    dataroot: str | None = None      # reference layout: trainA/ trainB/ testA/ testB/
    datasets_dir: str | None = None  # where domain names resolve; default $CYCLEGAN_DATASETS or ./datasets
    preprocess: str = "resize_and_crop"
    load_size: int = 286
    crop_size: int = 256
    no_flip: bool = False
    serial_batches: bool = False
    batch_size: int = 1
    num_threads: int = field(default_factory=lambda: default_workers())
    direction: str = "AtoB"          # BtoA: domain B's images play side A (the reference's --direction)
    phase: str = "train"             # --dataroot subfolders <phase>A/ <phase>B/
    max_dataset_size: int | None = None  # use at most this many images per domain (first by name)


@dataclass(slots=True)
class TrainConfig:
    name: str | None = None          # default: <domainA>2<domainB>
    checkpoints_dir: str = "checkpoints"
    gan_mode: str = "lsgan"
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    n_epochs: int = 100
    n_epochs_decay: int = 100
    epoch_count: int = 1
    lr_policy: str = "linear"        # linear | step | cosine (per epoch, as the reference steps them)
    lr_decay_iters: int = 50         # step: multiply by 0.1 every this many epochs
    max_steps: int | None = None
    time_budget: float | None = None  # seconds: --time fits the whole lr schedule into this much training
    recipe: str = "paper"            # paper | fast: which preset the options started from (recorded)
    ema: float = 0.0                 # decay of an average of the generators' weights, saved and translated (0 = off)
    save_latest_freq: int = 5000     # iterations
    save_epoch_freq: int = 5         # epochs
    print_freq: int = 100            # iterations between loss-log lines
    save_by_iter: bool = False       # also keep iter_<step>_net_*.pth at every --save_latest_freq
    no_html: bool = False            # no HTML report under web/
    verbose: bool = False            # print the networks and their sizes at the start
    continue_train: bool = False
    seed: int = 0
    device: str = "auto"
    progress: bool = True
    dry_run: bool = False            # a few steps end to end, for smoke tests
    # speed
    precision: str = "auto"          # auto | fp32 | bf16 | fp16
    compile: str = "auto"            # auto | on | off (torch.compile)
    # watching the run
    display: str = "auto"            # auto (visdom when a server answers) | visdom | tensorboard | none
    display_server: str = "http://localhost"
    display_port: int = 8097
    display_env: str | None = None   # default: the run name
    display_freq: int = 400          # iterations between dashboard updates
    update_html_freq: int = 1000     # iterations between HTML report updates
    eval_freq: int = 0               # iterations between KID evaluations (0 = off)
    use_wandb: bool = False          # also log to Weights & Biases (the reference's flag)
    wandb_project_name: str = "CycleGAN-and-pix2pix"  # the reference's default project


@dataclass
class Config:
    model: ModelOptions = field(default_factory=lambda: options_for(DEFAULT_MODEL))   # the chosen model's options
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def flat(self) -> dict[str, Any]:
        """Every setting by name, the sections merged (no name is in two sections)."""
        return {**dataclasses.asdict(self.model), **dataclasses.asdict(self.data), **dataclasses.asdict(self.train)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Config":
        """Rebuild from ``to_dict`` output; keys this version does not know are ignored.

        The model section becomes the model's options dataclass. Files of version 0.1 kept some
        model options (``lambda_A``, ``nce_T``, ``r1_gamma``, ...) under ``train``: they move to the
        model, and the options of other models that 0.1 wrote for every run are dropped."""
        model_values = dict(data.get("model") or {})
        train_values = dict(data.get("train") or {})
        card = find_card(model_values.get("model", DEFAULT_MODEL))
        kind = card.options_type if card else ModelOptions   # a newer version's model: its name only
        options = option_fields(kind)
        model_values = {**{k: v for k, v in train_values.items() if k in options}, **model_values}
        model = kind(**{k: v for k, v in model_values.items() if k in options or k == "model"})
        return cls(model=model, data=_known(DataConfig, data.get("data")), train=_known(TrainConfig, train_values))

    @staticmethod
    def unknown_keys(data: dict[str, Any]) -> list[str]:
        """The settings in ``data`` that no model and no section of this version knows, as
        ``section.key`` (``section`` for a whole section): what a newer version wrote and this one
        cannot use. (Another model's options, which 0.1 wrote for every run, are known.)"""
        any_model = {name for card in CARDS.values() for name in option_fields(card.options_type)} | {"model"}
        known = {"model": any_model | _field_names(TrainConfig), "data": _field_names(DataConfig),
                 "train": _field_names(TrainConfig) | any_model}
        unknown = [name for name in data if name not in known]
        for name, keys in known.items():
            values = data.get(name)
            if isinstance(values, dict):
                unknown += [f"{name}.{key}" for key in values if key not in keys]
        return unknown

    def save_json(self, path: Path) -> None:
        from .checkpoint import atomic_write_bytes
        atomic_write_bytes(path, (json.dumps(self.to_dict(), indent=2) + "\n").encode())

    @classmethod
    def load_json(cls, path: Path) -> "Config":
        return cls.from_dict(json.loads(Path(path).read_text()))


def _field_names(kind: type) -> set[str]:
    return {f.name for f in dataclasses.fields(kind)}


def _known(kind: type, values: dict[str, Any] | None):
    """``kind`` built from the values it has fields for."""
    names = _field_names(kind)
    return kind(**{k: v for k, v in (values or {}).items() if k in names})
