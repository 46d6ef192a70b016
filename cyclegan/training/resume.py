"""--continue_train: the settings a run was trained with against the ones it is resumed with.

The saved networks, optimisers and history pools have the shapes the run's own settings gave
them. Resumed with another --model, --netG, --ngf or --crop_size, they cannot be loaded (a
KeyError or a size mismatch deep inside torch, at load or at the next save), and before this
check a differing --ngf or --netG was quietly replaced by the saved one. Here every difference
is named in one line, before anything is built.
"""
from __future__ import annotations

import json
import warnings
from dataclasses import replace

from ..config import Config
from ..config_checks import option
from ..errors import UserError
from ..runfolder import RunFolder
from ..models import find_card, shaping_options

# Model settings that only shape the first weights: a resumed run loads its own.
INIT_ONLY = ("init_type", "init_gain")


def resumed_config(cfg: Config, saved_settings: dict, run: RunFolder, warn: bool = True) -> Config:
    """``cfg`` with the run's own model settings; UserError when a given one differs from them.
    ``warn``: say which saved settings this version does not know (once, on the main process)."""
    if warn:
        _warn_unknown_settings(saved_settings, run)
    saved = Config.from_dict(saved_settings)
    differing = differences(saved, cfg)
    if differing:
        was = " ".join(f"{name} {old}" for name, old, _ in differing)
        now = " ".join(f"{name} {new}" for name, _, new in differing)
        raise UserError(f"--continue_train: the run in {run.path} was trained with {was}, not {now}; "
                        f"resume with {was} or choose a new --name")
    # The run's own networks (the init settings too: its record stays its own); the given losses.
    own = {name: getattr(saved.model, name) for name in ("model", *shaping_options(type(saved.model)))}
    return replace(cfg, model=replace(cfg.model, **own))


def differences(saved: Config, given: Config) -> list[tuple[str, str, str]]:
    """(option, the run's value, the given value) for each setting that shapes what the run saved."""
    found = []
    if _model_name(saved.model.model) != _model_name(given.model.model):   # aliases name the same model
        found.append(("--model", saved.model.model, given.model.model))
    else:
        for name in shaping_options(type(saved.model)):
            if name not in INIT_ONLY and getattr(saved.model, name) != getattr(given.model, name):
                found.append((option(name), str(getattr(saved.model, name)), str(getattr(given.model, name))))
    # The history pools hold fakes of the run's crop size (the DCGAN's size is its --image_size).
    uses_crop = saved.data.preprocess != "none" and _translates(saved.model.model)
    if uses_crop and saved.data.crop_size != given.data.crop_size:
        found.append(("--crop_size", str(saved.data.crop_size), str(given.data.crop_size)))
    return found


def _translates(name: str) -> bool:
    card = find_card(name)
    return card.translates if card is not None else True   # a model a newer version knows


def _model_name(name: str) -> str:
    card = find_card(name)
    return card.name if card is not None else name   # a model a newer version knows: compare it as spelled


def _warn_unknown_settings(saved_settings: dict, run: RunFolder) -> None:
    """A run written by a newer version: name the settings that this one drops instead of
    dropping them silently (config.json is rewritten without them when the run resumes)."""
    unknown = Config.unknown_keys(saved_settings)
    try:
        on_disk = json.loads(run.config_file.read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        on_disk = None
    if isinstance(on_disk, dict):
        unknown += [key for key in Config.unknown_keys(on_disk) if key not in unknown]
    if unknown:
        warnings.warn(f"{run.config_file} holds settings this version does not know ({', '.join(unknown)}), "
                      "written by a newer version of cyclegan; the run resumes without them and its "
                      "config.json is rewritten without them")
