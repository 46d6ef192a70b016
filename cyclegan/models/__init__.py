"""Model cards: what each model is, in one place (``card``: the card and the lookups; one module per
model with its options dataclass and card). Importing the package registers every card."""
from __future__ import annotations

from .card import (CARDS, DEFAULT_MODEL, DIRECTIONS, ModelCard, Supports, add_card, card_of, check_supported,
                   find_card, generator_nets, model_card, model_names, options_for, resolve_model, use_model,
                   with_model_defaults)
from .options import D_AUGMENTATIONS, ModelOptions, Rule, TranslatorOptions, option, option_fields, shaping_options, training_option
from .cyclegan import CycleGANOptions
from .cut import CUT_MODES, CUTOptions
from .dcgan import DCGANOptions

__all__ = ["CARDS", "CUT_MODES", "CUTOptions", "CycleGANOptions", "DCGANOptions", "DEFAULT_MODEL", "DIRECTIONS",
           "D_AUGMENTATIONS", "ModelCard", "ModelOptions", "Rule", "Supports", "TranslatorOptions", "add_card",
           "card_of", "check_supported", "find_card", "generator_nets", "model_card", "model_names", "option",
           "option_fields", "options_for", "shaping_options", "training_option", "resolve_model", "use_model", "with_model_defaults"]
