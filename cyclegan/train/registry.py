"""Models by name: each model declares, in one place, what it builds and what it supports.

The loop reads these declarations and never probes a model with ``hasattr``. A model that does
not support an option refuses it in one line (``--model dcgan --precision bf16``). To add a
model: write its class (the ``TrainableModel`` contract below) and one ``ModelEntry``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from ..config import Config
from ..data import load_training_data
from ..data.single import load_single_domain
from ..errors import UserError
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
class Supports:
    ddp: bool = False          # torchrun multi-process training (the model wraps itself: ``distribute``)
    precision: bool = False    # --precision bf16/fp16 (autocast, channels-last)
    compile: bool = False      # --compile on (``compile_networks``)
    resume: bool = True        # --continue_train restores it exactly
    ema: bool = False          # --ema: an average of the generators' weights is kept, saved and translated


@dataclass(frozen=True)
class ModelEntry:
    name: str
    build: Callable[[Config, torch.device, int], TrainableModel]   # (cfg, device, rank)
    dataset: Callable[[Config], Dataset]
    run_name: Callable[[Config], str]          # default --name
    supports: Supports
    watchers: tuple[str, ...] = ()             # watchers every run of this model gets (see cyclegan.run)
    drop_partial_batches: bool = False         # skip an epoch's last, smaller batch (batch norm)
    defaults: dict[str, Any] = field(default_factory=dict)   # settings flags start from (CLI presets)
    # Which network translates in which direction (cyclegan-translate, KID, the progression
    # frames); empty for a model that makes images from noise.
    directions: dict[str, str] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    # Options of this model that some other model does not take: a run of a model that does not
    # list an option refuses it in one line (``--nce_T is a --model cut option``).
    options: tuple[str, ...] = ()
    finished_note: Callable[[Path], str] | None = None   # what cyclegan-train says after a run
    # Forward passes per step of each network over an image of the training size: the memory
    # guard's estimate (train/memory.py). Empty: no estimate (e.g. DCGAN's small fixed sizes).
    activation_passes: dict[str, int] = field(default_factory=dict)

    def drops_last(self, dataset_length: int, batch_size: int, world_size: int = 1) -> bool:
        """Whether an epoch skips its last, smaller batch: only for models that declare it, and
        only when a full batch exists at all (a new order each epoch means every image is seen)."""
        full_batch_exists = -(-dataset_length // world_size) >= batch_size
        return self.drop_partial_batches and full_batch_exists


def _domain_name(value: str | None, fallback: str) -> str:
    return Path(value or fallback).name


def _dataroot_name(cfg: Config) -> str | None:
    return Path(cfg.data.dataroot).expanduser().resolve().name if cfg.data.dataroot else None


MODELS: dict[str, ModelEntry] = {}


def register(entry: ModelEntry) -> ModelEntry:
    MODELS[entry.name] = entry
    return entry


def _pair_name(cfg: Config) -> str:
    return _dataroot_name(cfg) or f"{_domain_name(cfg.data.domainA, 'A')}2{_domain_name(cfg.data.domainB, 'B')}"


register(ModelEntry(
    name="cyclegan",
    aliases=("cycle_gan",),   # the reference's spelling
    build=lambda cfg, device, rank: CycleGAN(cfg, device, rank=rank),
    dataset=lambda cfg: load_training_data(cfg.data).dataset,
    run_name=lambda cfg: _dataroot_name(cfg) or
    f"{_domain_name(cfg.data.domainA, 'A')}2{_domain_name(cfg.data.domainB, 'B')}",
    supports=Supports(ddp=True, precision=True, compile=True, ema=True),
    directions={"AtoB": "G_A", "BtoA": "G_B"},
    options=("lambda_A", "lambda_B", "lambda_identity", "pool_size"),
    # each G: real, reconstruction, identity; each D: the fake for G's loss, real, pooled fake
    activation_passes={"G_A": 3, "G_B": 3, "D_A": 3, "D_B": 3},
))

# CUT and FastCUT (Park et al. 2020) with the public code's options and defaults
# (taesungp/contrastive-unpaired-translation: base, train and cut_model options; docs/CUT.md).
# One model class; the two modes are presets. Flags given on the command line still win.
CUT_OPTIONS = ("lambda_GAN", "lambda_NCE", "nce_idt", "nce_layers", "nce_includes_all_negatives_from_minibatch",
               "netF", "netF_nc", "nce_T", "num_patches", "flip_equivariance", "no_antialias", "no_antialias_up")
CUT_MODES = {"cut": "cut", "fastcut": "fastcut"}   # --CUT_mode (any case) -> model name


def _cut_entry(name: str, defaults: dict[str, Any], generator_passes: int) -> ModelEntry:
    return ModelEntry(
        name=name,
        build=lambda cfg, device, rank: CUT(cfg, device, rank=rank),
        dataset=lambda cfg: load_training_data(cfg.data).dataset,
        # Named apart from a CycleGAN run on the same domains, so the two sit side by side.
        run_name=lambda cfg: f"{_pair_name(cfg)}_{name}",
        supports=Supports(ddp=True, precision=True),
        directions={"AtoB": "G"},
        options=CUT_OPTIONS,
        # G: its outputs for the batch (x, and y with --nce_idt) and the encoder over each output
        # (the input's encoder runs without autograd); D: real, fake for D, fake for G.
        activation_passes={"G": generator_passes, "D": 3},
        # The public code: xavier init, lsgan, no history pool, Adam 2e-4 / 0.5, 286 -> 256 crops.
        defaults={"init_type": "xavier", "init_gain": 0.02, "gan_mode": "lsgan", **defaults},
    )


register(_cut_entry("cut", {"n_epochs": 200, "n_epochs_decay": 200, "lambda_NCE": 1.0, "nce_idt": True,
                            "flip_equivariance": False}, generator_passes=4))
register(_cut_entry("fastcut", {"n_epochs": 150, "n_epochs_decay": 50, "lambda_NCE": 10.0, "nce_idt": False,
                                "flip_equivariance": True}, generator_passes=2))

# DCGAN follows the paper (Radford et al. 2016): 64x64 images, 100-d noise, 64-wide networks,
# batch 128, Adam 2e-4 / beta1 0.5 at a constant rate. Flags given on the command line still win.
register(ModelEntry(
    name="dcgan",
    build=lambda cfg, device, rank: DCGAN(cfg, device),
    dataset=load_single_domain,
    run_name=lambda cfg: _dataroot_name(cfg) or f"{_domain_name(cfg.data.domainA, 'A')}_dcgan",
    supports=Supports(),
    watchers=("dcgan_samples",),
    # Both networks batch-normalise: an epoch's last batch of a few leftover images would give
    # noisy statistics and a noisy step (1797 digits at batch 64 end in a batch of 5).
    drop_partial_batches=True,
    defaults={"image_size": 64, "nz": 100, "ngf": 64, "ndf": 64, "channels": 3,
              "batch_size": 128, "lr": 2e-4, "beta1": 0.5, "n_epochs": 25, "n_epochs_decay": 0,
              "save_epoch_freq": 5, "print_freq": 50},
    finished_note=lambda run_dir: (f"fixed-noise grids in {run_dir / 'samples'} (animation: samples/training.gif); "
                                   f"more samples: cyclegan-sample --checkpoint {run_dir} -n 64 --output DIR"),
))


def model_entry(name: str) -> ModelEntry:
    for entry in MODELS.values():
        if name == entry.name or name in entry.aliases:
            return entry
    raise UserError(f"--model {name}: choose one of {', '.join(MODELS)}")


def with_model_defaults(cfg: Config, name: str) -> Config:
    """``cfg`` set to ``--model name`` and that model's published settings (its ``defaults``), as a
    bare ``cyclegan-train --model name`` starts; for code that builds a Config without the CLI."""
    cfg.model.model = name
    for key, value in model_entry(name).defaults.items():
        for section in (cfg.model, cfg.data, cfg.train):
            if hasattr(section, key):
                setattr(section, key, value)
    return cfg


def resolve_model(given: dict[str, Any]) -> ModelEntry:
    """The model the options name (``--model``, and ``--CUT_mode CUT|FastCUT`` with ``--model cut``, the
    public code's spelling), refusing in one line an option that belongs to another model.
    ``given`` holds only options the user gave; ``CUT_mode`` is taken out of it."""
    entry = model_entry(given.get("model", "cyclegan"))
    mode = given.pop("CUT_mode", None)
    if mode is not None:
        chosen = CUT_MODES.get(str(mode).lower())
        if chosen is None:
            raise UserError(f"--CUT_mode {mode}: choose CUT or FastCUT")
        if entry.name not in CUT_MODES.values():
            raise UserError(f"--CUT_mode is a --model cut option; --model {entry.name} has no modes")
        if "model" in given and entry.name == "fastcut" and chosen == "cut":
            raise UserError("--model fastcut --CUT_mode CUT: choose one (--model cut is CUT)")
        entry = MODELS[chosen]
    for option in given:
        owners = [other.name for other in MODELS.values() if option in other.options]
        if owners and option not in entry.options:
            raise UserError(f"--{option} is a --model {'/'.join(owners)} option; --model {entry.name} trains without it")
    return entry


def model_names() -> list[str]:
    """Every accepted --model spelling (names and aliases)."""
    return [spelling for entry in MODELS.values() for spelling in (entry.name, *entry.aliases)]


def check_supported(entry: ModelEntry, cfg: Config, distributed: bool) -> None:
    """Refuse, in one line, an option the model cannot honour (instead of silently ignoring it)."""
    t = cfg.train
    refusals = [
        (distributed and not entry.supports.ddp, "multi-process training; run it without torchrun"),
        (t.precision not in ("auto", "fp32") and not entry.supports.precision,
         f"--precision {t.precision}; it trains in fp32 (drop --precision)"),
        (t.compile == "on" and not entry.supports.compile, "--compile on; drop --compile"),
        (t.continue_train and not entry.supports.resume, "--continue_train"),
        (t.ema > 0 and not entry.supports.ema,
         f"--ema (only --model {'/'.join(e.name for e in MODELS.values() if e.supports.ema)} keeps a weight "
         "average); drop --ema"),
    ]
    for refused, what in refusals:
        if refused:
            raise UserError(f"--model {entry.name} does not support {what}")
