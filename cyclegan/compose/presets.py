"""From the options a user gave to a ``Config``: model presets, the demo, and which options go together.

``cyclegan-train`` parses flags into a dict (an option not given is absent or None) and calls
``plan_training``; a notebook can do the same. Options given always win over a preset.
"""
from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass
from typing import Any

from ..config import Config, DataConfig, TrainConfig
from ..config_checks import check_run_name
from ..data.demo import build_demo_domains
from ..data.domains import datasets_root
from ..errors import UserError
from ..nets import COLOUR_PATH_GENERATORS
from ..compat.reference_options import apply_suffix, translate_reference_options
from ..runfolder import RunFolder
from ..training.loop import run_name
from ..models import CARDS, DEFAULT_MODEL, ModelCard, options_for, resolve_model, shaping_options

# The demo trains a smaller CycleGAN at a small size so that it shows real progress within
# minutes on a laptop CPU; any of these can still be overridden on the command line.
DEMO_SETTINGS = {
    "name": "demo", "netG": "resnet_6blocks", "ngf": 16, "ndf": 16,
    "preprocess": "crop", "load_size": 96, "crop_size": 48,
    "n_epochs": 20, "n_epochs_decay": 14, "save_epoch_freq": 10, "print_freq": 20,
    "num_threads": 0,
}


# Recipes: where a run's options start from (options given always win). "paper" is the
# reference's CycleGAN as it is (the defaults in config.py). "fast" is what --time and the demo
# train: chosen on the quality suite (scripts/quality_suite.py: six known-answer pairs far from
# the identity and a real photo -> painting pair, beside the paper recipe at equal wall clock,
# one CPU core each; docs/BENCHMARKS.md). Its first version (skip_resnet_6blocks, no colour
# path, no warm-up) was chosen on the mild demo tint alone and handed most photos back.
RECIPES: dict[str, dict[str, Any]] = {
    "paper": {},
    "fast": {
        # starts as the identity (input plus a learned change) with a per-pixel colour path:
        # instance norm hides absolute colour from the ResNet, the colour path sees it
        "netG": "colour_skip_resnet_6blocks",
        # ...whose colour path starts at an affine colour map fitted to each domain's colours: from
        # the identity a generator cannot reach a negative or a swap of two channels (the cycle keeps
        # it invertible, and invertible maps cannot change orientation); seeds 0-2 on the suite
        "colour_start": "fit",
        "cycle_warmup": 0.3,             # the cycle loss rises over the first 30%: leave the identity first
        "upsample": "resize",            # no transposed convolutions: no checkerboard
        # generators without instance norm: a norm over the image lets a GAN set an image's
        # statistics with one bright or dark blob, and it learns to (blobs in every real test photo
        # at 128 px, streaks across flat skies); the per-pixel norm keeps activations at scale
        # without that lever. The discriminators keep instance norm: with it they teach texture
        # faster (painterly +1.7 dB over pixel norm in both, in 3 minutes)
        "norm": "pixel", "norm_D": "instance",
        # the discriminators see every image shifted and with a random half-side square blanked
        # (DiffAugment): on a few dozen images a bare D memorises them, wins outright (its loss
        # 0.000) and the generators drift; with it, 15 minutes at 64 px gain 2-4 dB on three of
        # four pairs (a little less in 3 minutes on texture, more on colour; docs/BENCHMARKS.md)
        "d_augment": "translation_cutout",
        "ngf": 16, "ndf": 16,            # small enough for thousands of steps on a CPU
        "ema": 0.999,                    # save and translate an average of the generators' weights
        "lr": 5e-4,
        "lambda_identity": 0.0,          # the identity loss holds the generator at the photo
    },
}


def recipe_settings(recipe: str) -> dict[str, Any]:
    """The option values a recipe sets, over the defaults (``paper`` sets none)."""
    if recipe not in RECIPES:
        raise UserError(f"--recipe {recipe!r}: choose one of {', '.join(RECIPES)}")
    return {"recipe": recipe, **RECIPES[recipe]}


# The demo with the fast recipe: a finished schedule in five minutes of training.
DEMO_FAST = {"time_budget": 300.0, "n_epochs": 100, "n_epochs_decay": 100, "save_epoch_freq": 10 ** 6}


@dataclass
class TrainPlan:
    config: Config
    demo: bool = False          # trains on the built-in demo domains (score the result afterwards)


def config_from_options(options: dict[str, Any], preset: dict[str, Any] | None = None) -> Config:
    """A Config from option values (by field name), over ``preset``, over the defaults; the model
    section is the options dataclass of ``values["model"]`` (the default model when absent)."""
    values = {**(preset or {}), **{k: v for k, v in options.items() if v is not None}}

    def section(kind):
        return kind(**{f.name: values[f.name] for f in dataclasses.fields(kind) if f.name in values})
    return Config(model=options_for(values.get("model", DEFAULT_MODEL), values), data=section(DataConfig),
                  train=section(TrainConfig))


def plan_training(options: dict[str, Any], prog: str = "cyclegan-train") -> TrainPlan:
    """The run the options ask for. With no domain options (or ``demo``): the offline demo."""
    plan = _plan(translate_reference_options({k: v for k, v in options.items() if v is not None}), prog)
    _start_where_it_applies(plan.config, given=options.get("colour_start") is not None)
    suffix = options.get("suffix")
    if suffix:   # the reference's --suffix, filled from the options as the run sees them
        cfg = plan.config
        cfg.train.name = apply_suffix(cfg.train.name or run_name(cfg), suffix, cfg.flat())
        check_run_name(cfg.train.name, "--suffix")   # a suffix may bring its own / or ..
    return plan


def _start_where_it_applies(cfg: Config, given: bool) -> None:
    """The fast recipe's fitted colour start sets a generator's colour path: with a --netG that has
    none (``--time --netG resnet_6blocks``) the run starts as that generator does, instead of being
    refused for an option the user never gave. Given by the user, it is checked (and refused) as is."""
    if not given and getattr(cfg.model, "colour_start", None) == "fit" and cfg.model.netG not in COLOUR_PATH_GENERATORS:
        cfg.model.colour_start = "identity"


def _plan(given: dict[str, Any], prog: str) -> TrainPlan:
    card = resolve_model(given)   # --model (--CUT_mode), and no option of another model
    given["model"] = card.name
    has_domains = bool(given.get("domainA") or given.get("domainB") or given.get("dataroot"))
    is_demo = card.name == DEFAULT_MODEL and (bool(given.get("demo")) or not has_domains)
    if "r1_gamma" in given and not given["r1_gamma"] >= 0:
        raise UserError(f"--r1_gamma {given['r1_gamma']:g}: must be 0 (off) or positive")
    resumed = _resumed_run(given, card, is_demo)
    recipe = _choose_recipe(given, card, is_demo, resumed)
    # Resuming, an architecture option not given is the run's own (not the default): the same
    # command plus --continue_train works, and so does one that leaves out --ngf 8.
    own = _architecture_of(resumed) if resumed is not None else {}
    if not card.translates:   # it learns one domain from noise
        if given.get("demo"):
            raise UserError(f"--demo trains a {DEFAULT_MODEL}; for --model {card.name} name the domain with --domainA")
        if given.get("domainB"):
            raise UserError(f"--model {card.name} learns one domain from noise: give --domainA only, drop --domainB")
        if not (given.get("domainA") or given.get("dataroot")):
            raise UserError(f"--model {card.name} needs the domain to learn: --domainA NAME (or a folder)")
        return TrainPlan(config_from_options(given, {**card.defaults, **own}))
    if not is_demo:
        return TrainPlan(config_from_options(given, {**card.defaults, **recipe_settings(recipe), **own}))
    if has_domains:
        raise UserError("--demo builds its own domains; drop --domainA/--domainB/--dataroot")
    domain_A, domain_B = build_demo_domains(datasets_root(given.get("datasets_dir")))
    print(f"{prog}: demo domains ready: {domain_A} and {domain_B}", file=sys.stderr)
    demo = {**DEMO_SETTINGS, **(DEMO_FAST if recipe == "fast" else {}), **recipe_settings(recipe)}
    if any(k in given for k in ("n_epochs", "n_epochs_decay", "max_steps")):
        demo.pop("time_budget", None)   # a schedule given in steps replaces the five minutes
    cfg = config_from_options(given, {**demo, "domainA": str(domain_A), "domainB": str(domain_B)})
    # Running the demo again picks up the earlier demo run (and only re-scores it when it is
    # complete) instead of refusing to touch an existing run.
    cfg.train.continue_train = RunFolder.under(cfg.train.checkpoints_dir, cfg.train.name).has_state()
    if cfg.train.continue_train and "time_budget" not in given:
        cfg.train.time_budget = None   # keep the saved run's budget: a finished demo is only scored again
    return TrainPlan(cfg, demo=True)


def _resumed_run(given: dict[str, Any], card: ModelCard, is_demo: bool):
    """The settings of the run --continue_train resumes, when it is a run of the same model (another
    model's settings are no default: resuming with another --model is refused, by name, later)."""
    if not given.get("continue_train") or is_demo:
        return None
    run = RunFolder.under(given.get("checkpoints_dir", "checkpoints"), run_name(config_from_options(given)))
    saved = run.read_config() if run.has_config() else None
    return saved if saved is not None and saved.model.model in (card.name, *card.aliases) else None


def _architecture_of(saved) -> dict[str, Any]:
    """The settings that shape a run's saved networks and pools (training/resume.py compares them)."""
    own = {key: getattr(saved.model, key) for key in shaping_options(type(saved.model))
           if key not in ("init_type", "init_gain")}
    own["crop_size"] = saved.data.crop_size
    return own


def _choose_recipe(given: dict[str, Any], card: ModelCard, is_demo: bool, resumed) -> str:
    """--recipe, else the resumed run's, else fast with --time or for the demo (models that have
    it), else paper."""
    recipe = given.get("recipe")
    if recipe is None and resumed is not None:
        recipe = resumed.train.recipe
    if recipe is None:
        wants_fast = is_demo or given.get("time_budget") is not None
        recipe = "fast" if wants_fast and "fast" in card.recipes else "paper"
    if recipe not in card.recipes:
        owners = "/".join(other.name for other in CARDS.values() if recipe in other.recipes) or "no model"
        raise UserError(f"--recipe {recipe} is a recipe for --model {owners}; give "
                        f"{' or '.join(f'--recipe {r}' for r in card.recipes)} (or leave it out) for --model {card.name}")
    return recipe
