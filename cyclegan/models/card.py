"""Model cards: what each model is, in one place.

A card says a model's name and aliases, the networks it saves, which generator translates in
which direction and which discriminator judges it, what the model supports, the options only it
takes, the settings a bare ``--model NAME`` starts from, its recipes, its run name and what
``cyclegan-train`` says when it finishes. Inference, the report, sampling, config checks and the
benchmarks read cards; none of them spells a model's name. How a model is *built and trained*
lives above, in the training registry (``cyclegan.training.registry``: name -> step class, dataset).

This package imports only errors (``config`` imports it: a Config holds its model's options), so
every layer may read it. The cards themselves are in ``cyclegan.models.cyclegan``, ``.cut`` and
``.dcgan``, each beside its options dataclass.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable

from ..errors import UserError
from .options import OPTIONS_OF_MODEL, ModelOptions, option_fields

# A cyclegan.config.Config. Not imported: config imports the cards (a Config holds its model's options).
Config = Any

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
    # The model's options, a dataclass: ``Config.model`` holds one. A flag that is a field of some
    # other model's options but not of this one's is refused in one line (``--nce_T is a --model
    # cut/fastcut option``); ``cyclegan-train --help`` lists each field under its models.
    options_type: type[ModelOptions] = ModelOptions
    defaults: dict[str, Any] = field(default_factory=dict)   # settings flags start from (CLI presets)
    recipes: tuple[str, ...] = ("paper",)       # --recipe values (cyclegan.compose.presets says what each sets)
    watchers: tuple[str, ...] = ()              # watchers every run of this model gets (see cyclegan.compose.run)
    drop_partial_batches: bool = False          # skip an epoch's last, smaller batch (batch norm)
    finished_note: Callable[[Path], str] | None = None   # what cyclegan-train says after a run
    # Forward passes per step of each network over an image of the training size: the memory
    # guard's estimate (train/memory.py). Empty: no estimate (e.g. DCGAN's small fixed sizes).
    activation_passes: dict[str, int] = field(default_factory=dict)
    # --CUT_mode (the public CUT code's spelling) -> model name; the first is the model modes refine
    modes: dict[str, str] = field(default_factory=dict)

    @property
    def options(self) -> tuple[str, ...]:
        """The names of the model's options (its dataclass's fields)."""
        return tuple(option_fields(self.options_type))

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


def domain_name(value: str | None, fallback: str) -> str:
    return Path(value or fallback).name


def dataroot_name(cfg: Config) -> str | None:
    return Path(cfg.data.dataroot).expanduser().resolve().name if cfg.data.dataroot else None


def pair_name(cfg: Config) -> str:
    return dataroot_name(cfg) or f"{domain_name(cfg.data.domainA, 'A')}2{domain_name(cfg.data.domainB, 'B')}"


CARDS: dict[str, ModelCard] = {}


def add_card(card: ModelCard) -> ModelCard:
    """Make a model known by its card (a model's step and dataset register in the training registry)."""
    CARDS[card.name] = card
    for spelling in (card.name, *card.aliases):
        OPTIONS_OF_MODEL[spelling] = card.options_type
    return card


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


def options_for(name: str, values: dict[str, Any] | None = None) -> ModelOptions:
    """A fresh options dataclass of ``--model name``: its defaults, then those of ``values`` it has."""
    card = model_card(name)
    known = option_fields(card.options_type)
    return card.options_type(model=card.name, **{k: v for k, v in (values or {}).items() if k in known})


def use_model(cfg: Config, name: str) -> Config:
    """``cfg`` switched to ``--model name``: its options become that model's dataclass, keeping the
    values of options both models have (the widths, the initialisation, ...)."""
    cfg.model = options_for(name, {f.name: getattr(cfg.model, f.name) for f in fields(cfg.model)})
    return cfg


def with_model_defaults(cfg: Config, name: str) -> Config:
    """``cfg`` set to ``--model name`` and that model's published settings (its ``defaults``), as a
    bare ``cyclegan-train --model name`` starts; for code that builds a Config without the CLI."""
    use_model(cfg, name)
    for key, value in model_card(name).defaults.items():
        for section in (cfg.model, cfg.data, cfg.train):
            if hasattr(section, key):
                setattr(section, key, value)
    return cfg


def resolve_model(given: dict[str, Any]) -> ModelCard:
    """The model the options name (``--model``, and ``--CUT_mode CUT|FastCUT`` with ``--model cut``, the
    public code's spelling), refusing in one line an option that belongs to another model.
    ``given`` holds only options the user gave; ``CUT_mode`` is taken out of it."""
    card = model_card(given.get("model", DEFAULT_MODEL))
    mode = given.pop("CUT_mode", None)
    if mode is not None:
        if not card.modes:
            owners = "/".join(dict.fromkeys(next(iter(other.modes.values())) for other in CARDS.values() if other.modes))
            raise UserError(f"--CUT_mode is a --model {owners} option; --model {card.name} has no modes")
        chosen = {spelled.lower(): name for spelled, name in card.modes.items()}.get(str(mode).lower())
        if chosen is None:
            raise UserError(f"--CUT_mode {mode}: choose {' or '.join(card.modes)}")
        base = next(iter(card.modes.values()))   # the model a mode refines (--model cut --CUT_mode FastCUT)
        if "model" in given and chosen != card.name and card.name != base:
            raise UserError(f"--model {card.name} --CUT_mode {mode}: choose one (--model {chosen} is {mode})")
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
