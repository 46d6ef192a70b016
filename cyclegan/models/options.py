"""Typed model options: one dataclass per model, each field carrying its default, range and help.

    @dataclass
    class DCGANOptions(ModelOptions):
        nz: int = option(100, "the DCGAN's latent size", low=1, high=100_000)

``Config.model`` holds the chosen model's dataclass. ``cyclegan-train --help`` lists each field
under the models that have it, ``config_checks`` checks its range, and a flag of a field the chosen
model lacks is refused in one line naming the models that have it (``cyclegan.models.card``).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Sequence


@dataclass(frozen=True)
class Rule:
    """Allowed values: ``low`` <= v (< when ``low_open``) and v <= ``high`` (< when ``high_open``);
    None is a valid value only when ``optional``. ``below`` replaces the message for a value under
    ``low`` (the wording earlier versions used, which scripts and tests may match)."""
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    note: str = ""
    below: str | None = None
    optional: bool = False


FRACTION = dict(low=0, high=1, high_open=True)   # a share: 0 <= v < 1
# --norm choices: cyclegan/nets/norms.py NORMS, which this layer may not import (a test keeps them equal)
NORM_CHOICES = ("instance", "batch", "syncbatch", "pixel", "none")
D_AUGMENTATIONS = ("none", "translation", "translation_cutout")  # --d_augment choices (cyclegan/training/diff_augment.py)


def option(default: Any, help: str, *, choices: Sequence[str] | None = None, yes_no: bool = False,
           shapes: bool = True, note: str = "", **rule: Any):
    """A model option's field: its default, the ``--help`` text, allowed ``choices`` and the range
    (``Rule``'s keywords: ``low=1, high=64``; ``note`` says what the number is, for range errors).
    ``yes_no``: the flag takes an optional true/false (the public CUT code's booleans).
    ``shapes=False``: how the model trains (a loss weight), not what it saves: a resumed run may
    change it, while an option that shapes the saved networks must stay the run's own."""
    metadata = {"help": help, "choices": tuple(choices) if choices else None, "yes_no": yes_no, "shapes": shapes}
    if rule or note:
        metadata["rule"] = Rule(note=note, **rule)
    return field(default=default, metadata=metadata)


def training_option(default: Any, help: str, **keywords: Any):
    """An option of how the model trains (a loss weight, the pool), not of what it saves."""
    return option(default, help, shapes=False, **keywords)


def d_augment_option():
    """--d_augment, for every model whose discriminator it steadies (each dataclass its own field)."""
    return training_option("none", "randomly translate every image the discriminator sees, real and generated "
                           "(DiffAugment; helps small domains; translation_cutout also blanks a random square of "
                           "half the side; default none, as in the paper)",
                           choices=D_AUGMENTATIONS)


def r1_gamma_option():
    """--r1_gamma, likewise."""
    return training_option(0.0, "R1 penalty, gamma/2 x the squared gradient of D at real images (Mescheder et "
                           "al. 2018; steadies D on small domains; default 0 = off, as in the paper)", low=0,
                           note="0 turns the R1 penalty off")


# model name (and alias) -> its options dataclass; ``cyclegan.models.add_card`` fills it
OPTIONS_OF_MODEL: dict[str, type] = {}


class _NamedModel:
    """Refuses to change ``model`` to a model whose options are another dataclass: the fields would
    not match (``cyclegan.models.use_model(cfg, name)`` switches a Config's model and its options).
    The options dataclasses have slots, so a name that is no option of the model is refused too
    (``cfg.model.nce_T = 0.1`` on a CycleGAN's options), instead of being set and never read."""
    __slots__ = ()

    def __setattr__(self, name: str, value: Any) -> None:
        current = getattr(self, "model", None)
        if name == "model" and current is not None and value != current:
            kind = OPTIONS_OF_MODEL.get(value)
            if kind is not None and not isinstance(self, kind):
                raise TypeError(f"{type(self).__name__} cannot become --model {value}'s options; "
                                f"use cyclegan.models.use_model(cfg, {value!r})")
        object.__setattr__(self, name, value)


@dataclass(slots=True)
class ModelOptions(_NamedModel):
    """What every model has: its name and the two networks' widths and initialisation."""
    model: str = "cyclegan"
    ngf: int = option(64, "generator width (default 64)", low=1, high=1024, note="the generator's width")
    ndf: int = option(64, "discriminator width (default 64)", low=1, high=1024, note="the discriminator's width")
    init_type: str = option("normal", "weight initialisation (default normal)",
                            choices=("normal", "xavier", "kaiming", "orthogonal"))
    init_gain: float = option(0.02, "scale of the initial weights (default 0.02)", low=0, high=100, low_open=True,
                              note="the scale of the initial weights")

    def check(self) -> None:
        """Refuse, in one line, values that are each in range but do not go together (after the ranges)."""


@dataclass(slots=True)
class TranslatorOptions(ModelOptions):
    """The image-to-image models' generator and discriminator (the reference's options)."""
    netG: str = option("resnet_9blocks",
                       "generator (default resnet_9blocks; unet_* take sides that are multiples of 256/128; "
                       "skip_resnet_*: ours, not the reference's: input plus a learned change, the identity at "
                       "step 0; colour_skip_resnet_6blocks: that plus a per-pixel colour path)")
    netD: str = option("basic", "discriminator (default basic: 70x70 PatchGAN)", choices=("basic", "n_layers", "pixel"))
    n_layers_D: int = option(3, "PatchGAN depth (default 3 = 70x70)", low=1, high=16,
                             note="the PatchGAN's stride-2 layers; 3 gives the 70x70 PatchGAN")
    norm: str = option("instance", "normalisation (default instance; syncbatch: batch norm synchronised across "
                       "GPUs under torchrun; pixel: each pixel across channels)",
                       choices=NORM_CHOICES)
    norm_D: str = option("same", "the discriminators' normalisation (default same: as --norm)",
                         choices=("same", *NORM_CHOICES))
    use_dropout: bool = option(False, "dropout in the residual blocks (the CycleGAN model trains without)")
    upsample: str = option("transpose", "generator upsampling (default transpose, the reference's; resize: "
                           "nearest x2 then a 3x3 conv, no checkerboard; files then no longer load into the "
                           "reference's network)")
    input_nc: int = option(3, "image channels of domain A (3: RGB; the only value supported)", low=1, high=64,
                           note="channels of the input images")
    output_nc: int = option(3, "image channels of domain B (3)", low=1, high=64, note="channels of the output images")

    @property
    def discriminator_norm(self) -> str:
        """The discriminators' norm: --norm_D, or --norm when it says same."""
        return self.norm if self.norm_D == "same" else self.norm_D

    def generator_settings(self, direction: str = "AtoB") -> dict[str, Any]:
        """What rebuilds the generator of ``direction`` before its weights load (the fields of
        ``cyclegan.nets.spec.GeneratorSpec``); B -> A's generator maps B's channels to A's."""
        in_nc, out_nc = (self.input_nc, self.output_nc) if direction == "AtoB" else (self.output_nc, self.input_nc)
        return dict(netG=self.netG, ngf=self.ngf, norm=self.norm, use_dropout=self.use_dropout, input_nc=in_nc,
                    output_nc=out_nc, upsample=self.upsample)


def option_fields(kind: type) -> dict[str, dataclasses.Field]:
    """The options of a model's dataclass by name (``model``, which names it, is not an option)."""
    return {f.name: f for f in dataclasses.fields(kind) if f.name != "model"}


def shaping_options(kind: type) -> tuple[str, ...]:
    """The options that shape what a run saves (its networks and their files): a resumed run keeps them."""
    return tuple(name for name, f in option_fields(kind).items() if f.metadata.get("shapes", True))
