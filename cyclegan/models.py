"""Model cards: what each model is, in one place.

A card says a model's name and aliases, the networks it saves, which generator translates in
which direction and which discriminator judges it, what the model supports, the options only it
takes, the settings a bare ``--model NAME`` starts from, its recipes, its run name and what
``cyclegan-train`` says when it finishes. Inference, the report, sampling, config checks and the
benchmarks read cards; none of them spells a model's name. How a model is *built and trained*
lives above, in the training registry (``cyclegan.training.registry``: name -> step class, dataset).

This module imports only config and errors, so every layer may read it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .config import Config
from .errors import UserError

DIRECTIONS = ("AtoB", "BtoA")
DEFAULT_MODEL = "cyclegan"   # what a bare cyclegan-train, and the demo, train


@dataclass(frozen=True)
class Supports:
    ddp: bool = False             # torchrun multi-process training (the model wraps itself: ``distribute``)
    precision: bool = False       # --precision bf16/fp16 (autocast, channels-last)
    compile: bool = False         # --compile on (``compile_networks``)
    resume: bool = True           # --continue_train restores it exactly
    ema: bool = False             # --ema: an average of the generators' weights is kept, saved and translated


@dataclass(frozen=True)
class ModelCard:
    name: str
    nets: tuple[str, ...]                       # saved as <tag>_net_<name>.pth
    run_name: Callable[[Config], str]           # default --name
    supports: Supports
    aliases: tuple[str, ...] = ()
    # Which generator translates in which direction (cyclegan-translate, KID, the progression
    # frames, the collapse guard); empty for a model that makes images from noise.
    directions: dict[str, str] = field(default_factory=dict)
    judges: dict[str, str] = field(default_factory=dict)     # generator -> the discriminator of its outputs
    # Options of this model that some other model does not take: a run of a model that does not
    # list an option refuses it in one line (``--nce_T is a --model cut option``).
    options: tuple[str, ...] = ()
    defaults: dict[str, Any] = field(default_factory=dict)   # settings flags start from (CLI presets)
    recipes: tuple[str, ...] = ("paper",)       # --recipe values (cyclegan.presets says what each sets)
    watchers: tuple[str, ...] = ()              # watchers every run of this model gets (see cyclegan.run)
    drop_partial_batches: bool = False          # skip an epoch's last, smaller batch (batch norm)
    finished_note: Callable[[Path], str] | None = None   # what cyclegan-train says after a run
    # Forward passes per step of each network over an image of the training size: the memory
    # guard's estimate (train/memory.py). Empty: no estimate (e.g. DCGAN's small fixed sizes).
    activation_passes: dict[str, int] = field(default_factory=dict)

    @property
    def translates(self) -> bool:
        """A translator (photo in, photo out); otherwise it makes images from noise (cyclegan-sample)."""
        return bool(self.directions)

    @property
    def one_sided(self) -> bool:
        """Translates A -> B only, with one generator."""
        return set(self.directions) == {"AtoB"}

    @property
    def generator(self) -> str:
        """The network that makes the images: A -> B's generator, or the one that draws from noise."""
        return self.directions.get("AtoB", "G")

    def generator_for(self, direction: str) -> str:
        if direction not in self.directions:
            raise UserError(f"a --model {self.name} run translates {' and '.join(self.directions) or 'nothing'}, "
                            f"not {direction}")
        return self.directions[direction]

    def drops_last(self, dataset_length: int, batch_size: int, world_size: int = 1) -> bool:
        """Whether an epoch skips its last, smaller batch: only for models that declare it, and
        only when a full batch exists at all (a new order each epoch means every image is seen)."""
        full_batch_exists = -(-dataset_length // world_size) >= batch_size
        return self.drop_partial_batches and full_batch_exists


def _domain_name(value: str | None, fallback: str) -> str:
    return Path(value or fallback).name


def _dataroot_name(cfg: Config) -> str | None:
    return Path(cfg.data.dataroot).expanduser().resolve().name if cfg.data.dataroot else None


def _pair_name(cfg: Config) -> str:
    return _dataroot_name(cfg) or f"{_domain_name(cfg.data.domainA, 'A')}2{_domain_name(cfg.data.domainB, 'B')}"


CARDS: dict[str, ModelCard] = {}


def add_card(card: ModelCard) -> ModelCard:
    """Make a model known by its card (a model's step and dataset register in the training registry)."""
    CARDS[card.name] = card
    return card


GENERATOR_OPTIONS = ("upsample",)   # the translators' generators; the DCGAN's has its own fixed layers

add_card(ModelCard(
    name="cyclegan",
    aliases=("cycle_gan",),   # the reference's spelling
    nets=("G_A", "G_B", "D_A", "D_B"),
    run_name=_pair_name,
    supports=Supports(ddp=True, precision=True, compile=True, ema=True),
    directions={"AtoB": "G_A", "BtoA": "G_B"},
    judges={"G_A": "D_A", "G_B": "D_B"},   # D_A judges G_A's outputs, which look like domain B
    options=("lambda_A", "lambda_B", "lambda_identity", "pool_size", "cycle_warmup", "colour_start", *GENERATOR_OPTIONS),
    recipes=("paper", "fast"),
    # each G: real, reconstruction, identity; each D: the fake for G's loss, real, pooled fake
    activation_passes={"G_A": 3, "G_B": 3, "D_A": 3, "D_B": 3},
))

# CUT and FastCUT (Park et al. 2020) with the public code's options and defaults
# (taesungp/contrastive-unpaired-translation: base, train and cut_model options; docs/CUT.md).
# One model class; the two modes are presets. Flags given on the command line still win.
CUT_OPTIONS = ("lambda_GAN", "lambda_NCE", "nce_idt", "nce_layers", "nce_includes_all_negatives_from_minibatch",
               "netF", "netF_nc", "nce_T", "num_patches", "flip_equivariance", "no_antialias", "no_antialias_up")
CUT_MODES = {"cut": "cut", "fastcut": "fastcut"}   # --CUT_mode (any case) -> model name


def _cut_card(name: str, defaults: dict[str, Any], generator_passes: int) -> ModelCard:
    return ModelCard(
        name=name,
        nets=("G", "D", "F"),
        # Named apart from a CycleGAN run on the same domains, so the two sit side by side.
        run_name=lambda cfg: f"{_pair_name(cfg)}_{name}",
        supports=Supports(ddp=True, precision=True),
        directions={"AtoB": "G"},
        judges={"G": "D"},
        options=(*CUT_OPTIONS, *GENERATOR_OPTIONS),
        # G: its outputs for the batch (x, and y with --nce_idt) and the encoder over each output
        # (the input's encoder runs without autograd); D: real, fake for D, fake for G.
        activation_passes={"G": generator_passes, "D": 3},
        # The public code: xavier init, lsgan, no history pool, Adam 2e-4 / 0.5, 286 -> 256 crops.
        defaults={"init_type": "xavier", "init_gain": 0.02, "gan_mode": "lsgan", **defaults},
    )


add_card(_cut_card("cut", {"n_epochs": 200, "n_epochs_decay": 200, "lambda_NCE": 1.0, "nce_idt": True,
                           "flip_equivariance": False}, generator_passes=4))
add_card(_cut_card("fastcut", {"n_epochs": 150, "n_epochs_decay": 50, "lambda_NCE": 10.0, "nce_idt": False,
                               "flip_equivariance": True}, generator_passes=2))

# DCGAN follows the paper (Radford et al. 2016): 64x64 images, 100-d noise, 64-wide networks,
# batch 128, Adam 2e-4 / beta1 0.5 at a constant rate. Flags given on the command line still win.
add_card(ModelCard(
    name="dcgan",
    nets=("G", "D"),
    run_name=lambda cfg: _dataroot_name(cfg) or f"{_domain_name(cfg.data.domainA, 'A')}_dcgan",
    supports=Supports(),
    options=("d_augment", "r1_gamma"),
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


def model_card(name: str) -> ModelCard:
    for card in CARDS.values():
        if name == card.name or name in card.aliases:
            return card
    raise UserError(f"--model {name}: choose one of {', '.join(CARDS)}")


def find_card(name: str) -> ModelCard | None:
    """The card of ``name``, or None for a model this version does not know (a newer version's run)."""
    try:
        return model_card(name)
    except UserError:
        return None


def card_of(cfg: Config) -> ModelCard:
    """The card of the model a config trains (or a run's config.json trained)."""
    return model_card(cfg.model.model)


def model_names() -> list[str]:
    """Every accepted --model spelling (names and aliases)."""
    return [spelling for card in CARDS.values() for spelling in (card.name, *card.aliases)]


def generator_nets() -> tuple[str, ...]:
    """Every network name that is a translating generator, and "G" (a bare reference-style file)."""
    names = {net for card in CARDS.values() for net in card.directions.values()}
    return tuple(sorted(names | {"G"}))


def with_model_defaults(cfg: Config, name: str) -> Config:
    """``cfg`` set to ``--model name`` and that model's published settings (its ``defaults``), as a
    bare ``cyclegan-train --model name`` starts; for code that builds a Config without the CLI."""
    cfg.model.model = name
    for key, value in model_card(name).defaults.items():
        for section in (cfg.model, cfg.data, cfg.train):
            if hasattr(section, key):
                setattr(section, key, value)
    return cfg


def resolve_model(given: dict[str, Any]) -> ModelCard:
    """The model the options name (``--model``, and ``--CUT_mode CUT|FastCUT`` with ``--model cut``, the
    public code's spelling), refusing in one line an option that belongs to another model.
    ``given`` holds only options the user gave; ``CUT_mode`` is taken out of it."""
    card = model_card(given.get("model", "cyclegan"))
    mode = given.pop("CUT_mode", None)
    if mode is not None:
        chosen = CUT_MODES.get(str(mode).lower())
        if chosen is None:
            raise UserError(f"--CUT_mode {mode}: choose CUT or FastCUT")
        if card.name not in CUT_MODES.values():
            raise UserError(f"--CUT_mode is a --model cut option; --model {card.name} has no modes")
        if "model" in given and card.name == "fastcut" and chosen == "cut":
            raise UserError("--model fastcut --CUT_mode CUT: choose one (--model cut is CUT)")
        card = CARDS[chosen]
    for option in given:
        owners = [other.name for other in CARDS.values() if option in other.options]
        if owners and option not in card.options:
            raise UserError(f"--{option} is a --model {'/'.join(owners)} option; --model {card.name} trains without it")
    return card


def check_supported(card: ModelCard, cfg: Config, distributed: bool) -> None:
    """Refuse, in one line, an option the model cannot honour (instead of silently ignoring it)."""
    t = cfg.train
    refusals = [
        (distributed and not card.supports.ddp, "multi-process training; run it without torchrun"),
        (t.precision not in ("auto", "fp32") and not card.supports.precision,
         f"--precision {t.precision}; it trains in fp32 (drop --precision)"),
        (t.compile == "on" and not card.supports.compile, "--compile on; drop --compile"),
        (t.continue_train and not card.supports.resume, "--continue_train"),
        (t.ema > 0 and not card.supports.ema,
         f"--ema (only --model {'/'.join(c.name for c in CARDS.values() if c.supports.ema)} keeps a weight "
         "average); drop --ema"),
    ]
    for refused, what in refusals:
        if refused:
            raise UserError(f"--model {card.name} does not support {what}")
