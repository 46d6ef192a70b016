"""Range and finiteness checks for every numeric option of a ``Config``, before any work starts.

    from cyclegan.config_checks import check_config
    check_config(cfg)   # raises UserError: "--ngf 0: must be at least 1 (the generator's width); the default is 64"

A bad number otherwise surfaces far from its cause: ``--ngf 0`` as a shape error inside a
convolution, ``--lr inf`` as NaN weights hours later, ``--seed 2**70`` as an overflow in torch,
``--n_layers_D 9`` on a 256 crop as a 0x0 feature map. Each rule below says what range an option
takes and why; the message names the option as the command line spells it and the default to
fall back on. ``RULES`` covers every numeric field of the data and training sections, and each model's
options declare their own ranges (``cyclegan.models.option``; tests check that no numeric field
slips past), and ``_check_sizes`` the rules that tie options together: the crop against
the load size, and the smallest image the generator and the PatchGAN can take.
"""
from __future__ import annotations

import dataclasses
import math
import typing

from .config import Config, DataConfig, TrainConfig
from .errors import UserError
from .models import Rule, TranslatorOptions, card_of, option_fields

MAX_IMAGE_SIDE = 8192          # px: one 8192^2 image already needs tens of GB of activations in a 64-wide generator
MAX_SEED = 2 ** 63 - 1         # torch.manual_seed's largest non-negative seed
MAX_THREADS = 256              # data-loading worker processes
UNET_NUM_DOWNS = {"unet_128": 7, "unet_256": 8}   # --netG -> stride-2 levels (cyclegan/nets/unet.py)
PATCHGAN_NETS = ("basic", "n_layers")              # --netD values built from --n_layers_D

# Options whose command-line spelling is not --<field name>.
SPELLING = {"max_steps": "--max-steps", "time_budget": "--time"}


def option(field_name: str) -> str:
    """The command line's spelling of a config field."""
    return SPELLING.get(field_name, f"--{field_name}")


_FRACTION = dict(low=0, high=1, high_open=True)   # a share: 0 <= v < 1

RULES: dict[str, dict[str, Rule]] = {
    "data": {
        "load_size": Rule(1, MAX_IMAGE_SIDE, note="images are resized to this first; a larger side does not "
                                                  "fit in memory to train"),
        "crop_size": Rule(1, MAX_IMAGE_SIDE, note="the side of the images the networks see; a larger side does "
                                                  "not fit in memory to train"),
        "batch_size": Rule(1, None, note="images per step"),
        "num_threads": Rule(0, MAX_THREADS, note="data-loading worker processes; 0 loads in the main process"),
        "max_dataset_size": Rule(1, None, optional=True, below="--max_dataset_size must be at least 1"),
    },
    "train": {
        "lr": Rule(0, None, low_open=True, below="--lr must be positive", note="Adam's learning rate"),
        "beta1": Rule(**_FRACTION, note="Adam's first-moment decay"),
        "beta2": Rule(**_FRACTION, note="Adam's second-moment decay"),
        "n_epochs": Rule(0, None, below="--n_epochs and --n_epochs_decay must be >= 0"),
        "n_epochs_decay": Rule(0, None, below="--n_epochs and --n_epochs_decay must be >= 0"),
        "epoch_count": Rule(1, None, below="--epoch_count must be at least 1"),
        "lr_decay_iters": Rule(1, None, below="--lr_decay_iters must be at least 1"),
        "max_steps": Rule(1, None, optional=True, below="--max-steps must be at least 1"),
        "time_budget": Rule(0, None, low_open=True, optional=True, note="seconds of training"),
        "ema": Rule(**_FRACTION, note="the decay of the weight average; 0 turns it off"),
        "save_latest_freq": Rule(1, None, below="--save_latest_freq and --save_epoch_freq must be >= 1"),
        "save_epoch_freq": Rule(1, None, below="--save_latest_freq and --save_epoch_freq must be >= 1"),
        "print_freq": Rule(1, None, below="--print_freq must be at least 1"),
        "seed": Rule(0, MAX_SEED, below="--seed must be >= 0",
                     note="2**63 - 1, the largest seed torch takes"),
        "display_port": Rule(1, 65_535, note="a TCP port"),
        "display_freq": Rule(1, None, note="iterations between dashboard updates"),
        "update_html_freq": Rule(1, None, note="iterations between HTML report updates"),
        "eval_freq": Rule(0, None, below="--eval_freq must be >= 0 (0 = off)"),
    },
}
_SECTIONS = {"data": DataConfig, "train": TrainConfig}


def model_rules(kind: type) -> dict[str, Rule]:
    """The ranges a model's options dataclass declares (each field's ``option(..., low=, high=)``)."""
    return {name: f.metadata["rule"] for name, f in option_fields(kind).items() if "rule" in f.metadata}


def check_config(cfg: Config) -> None:
    """Raise UserError (one line naming the option) for the first numeric option out of range."""
    sections = [(getattr(cfg, section), kind, RULES[section]) for section, kind in _SECTIONS.items()]
    for values, kind, rules in [(cfg.model, type(cfg.model), model_rules(type(cfg.model))), *sections]:
        for name, number_type in numeric_fields(kind).items():
            rule = rules.get(name)
            if rule is not None:
                _check_value(getattr(values, name), number_type, name, rule, _default(kind, name))
    _check_sums(cfg)
    _check_sizes(cfg)
    if cfg.train.name:   # empty: the run is named after its domains
        check_run_name(cfg.train.name)


def check_run_name(name: str, option: str = "--name") -> None:
    """A run name is one folder directly under --checkpoints_dir. Anything else (``../x``, ``/abs``,
    ``a/b``, ``..``) would put the run's files, and later overwrites of them, somewhere else."""
    name = str(name)
    if name in ("", ".", "..") or any(bad in name for bad in ("/", "\\", "\0")):
        raise UserError(f"{option}: the run name {name!r} is not one plain folder name (no / or \\, not . or .., "
                        "no NUL); give a name such as horse2zebra_v2, and --checkpoints_dir for where runs go")


def numeric_fields(kind: type) -> dict[str, type]:
    """The fields of a config dataclass that hold a number (or None), with that number's type."""
    found = {}
    for name, hint in typing.get_type_hints(kind).items():
        kinds = set(typing.get_args(hint)) - {type(None)} or {hint}
        if kinds <= {int, float} and kinds:
            found[name] = float if float in kinds else int
    return found


def _default(kind: type, name: str):
    for f in dataclasses.fields(kind):
        if f.name == name:
            return f.default
    return None


def _check_value(value, number_type: type, name: str, rule: Rule, default) -> None:
    spelled = option(name)
    fallback = f"; the default is {default:g}" if isinstance(default, (int, float)) else ""
    if value is None:
        if rule.optional:
            return
        raise UserError(f"{spelled}: a number is required{fallback}")
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or (number_type is int and not isinstance(value, int)):
        kind = "a whole number" if number_type is int else "a number"
        raise UserError(f"{spelled} {value!r}: must be {kind}{fallback}")
    if not math.isfinite(value):
        raise UserError(f"{spelled} {value}: must be a finite number{_about(rule)}{fallback}")
    too_low = rule.low is not None and (value <= rule.low if rule.low_open else value < rule.low)
    too_high = rule.high is not None and (value >= rule.high if rule.high_open else value > rule.high)
    if too_low and rule.below:
        raise UserError(f"{rule.below} (got {_number(value)})")
    if too_low or too_high:
        raise UserError(f"{spelled} {_number(value)}: must be {_range(rule, too_low, number_type)}{_about(rule)}{fallback}")


def _number(value) -> str:
    return str(value) if isinstance(value, int) else f"{value:g}"


def _about(rule: Rule) -> str:
    return f" ({rule.note})" if rule.note else ""


def _range(rule: Rule, too_low: bool, number_type: type) -> str:
    low, high = rule.low, rule.high
    if low is not None and high is not None and (rule.low_open or rule.high_open or number_type is float):
        return f"in {'(' if rule.low_open else '['}{_number(low)}, {_number(high)}{')' if rule.high_open else ']'}"
    if too_low:
        if rule.low_open:
            return "positive" if low == 0 else f"greater than {_number(low)}"
        return "0 or more" if low == 0 and number_type is float else f"at least {_number(low)}"
    return f"less than {_number(high)}" if rule.high_open else f"at most {_number(high)}"


def _check_sums(cfg: Config) -> None:
    t = cfg.train
    if t.n_epochs + t.n_epochs_decay < 1:
        raise UserError("--n_epochs plus --n_epochs_decay must be at least 1")


def smallest_patchgan_side(n_layers: int) -> int:
    """The smallest image side the n-layer PatchGAN takes: n stride-2 4x4 convolutions halve the
    side (rounding down), then two stride-1 4x4 convolutions take 1 pixel each; the first of those
    is normalised, which needs at least 2 x 2 values, and the output needs 1 x 1."""
    return 3 * 2 ** n_layers


def _check_sizes(cfg: Config) -> None:
    m, d = cfg.model, cfg.data
    m.check()   # what the model's own options require of each other (the DCGAN's sizes)
    if not card_of(cfg).translates:   # networks of fixed sizes, no crop to check against them
        return
    preprocess = d.preprocess
    if "crop" in preprocess and preprocess != "crop" and d.crop_size > d.load_size:
        raise UserError(f"--crop_size {d.crop_size} is larger than --load_size {d.load_size}; "
                        "make --load_size at least --crop_size")
    # The side of the images the networks see: the crop, or for scale_width the smaller of the
    # width (load_size) and the height (at least crop_size); with 'none' it is each image's own.
    if "crop" in preprocess:
        side, where = d.crop_size, "--crop_size"
    elif preprocess == "scale_width":
        side, where = min(d.load_size, d.crop_size), ("--load_size" if d.load_size < d.crop_size else "--crop_size")
    else:
        return
    if not isinstance(m, TranslatorOptions):   # a model with networks of its own (a toy, a new model)
        return
    lowpass = getattr(m, "cycle_lowpass", 1)
    if lowpass > side:
        raise UserError(f"--cycle_lowpass {lowpass}: the cycle would average blocks larger than the {side} px "
                        f"images ({where}); use --cycle_lowpass {side} or less")
    num_downs = UNET_NUM_DOWNS.get(m.netG)
    if num_downs is not None:
        multiple = 2 ** num_downs
        if "crop" in preprocess and d.crop_size % multiple:
            raise UserError(f"--crop_size {d.crop_size}: --netG {m.netG} needs a multiple of {multiple} "
                            f"(it halves the side {num_downs} times); use --crop_size {max(multiple, d.crop_size // multiple * multiple)}")
    elif d.crop_size % 4 or d.crop_size < 8:
        raise UserError(f"--crop_size {d.crop_size} must be a multiple of 4 and at least 8 "
                        "(the generator downsamples twice)")
    if m.netD in PATCHGAN_NETS:
        need = smallest_patchgan_side(m.n_layers_D)
        if side < need:
            deepest = max(0, int(math.floor(math.log2(side / 3)))) if side >= 3 else 0
            advice = f"use --n_layers_D {deepest} or less, or " if deepest >= 1 else ""
            raise UserError(f"--n_layers_D {m.n_layers_D}: a PatchGAN this deep needs images of at least {need} px "
                            f"on a side (3 x 2^{m.n_layers_D}), but {where} is {side}; {advice}a {where} of at "
                            f"least {need}")
